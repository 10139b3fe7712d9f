#!/usr/bin/env bash
# The quickstart: installs what is missing, builds kefo, starts kinesis-local
# on a free loopback port, writes records to a new stream, captures a real
# SubscribeToShard (Enhanced Fan-Out) response and decodes it with
# kefo-eventstream, then stops the emulator. It leaves nothing running.
# Usage: bash scripts/demo.sh        (as root on a fresh Debian 12 machine)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash scripts/install-deps.sh
if [ ! -x configure ] || [ configure.ac -nt configure ] ||
   [ Makefile.am -nt Makefile.in ]; then
  ./autogen.sh >/tmp/kefo-autogen.out 2>&1 || { cat /tmp/kefo-autogen.out; exit 1; }
fi
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure >configure.out; } &&
  make -j"$(nproc)" >make.out 2>&1 || { cat make.out; exit 1; })
echo "demo: built kefo $(./build/tools/kefo-eventstream --version | cut -d' ' -f2)"

tmp=$(mktemp -d)
KEFO_EMULATOR_LOG_DIR=$tmp
source tests/harness/emulators.sh
trap 'kefo_stop_emulators; rm -rf "$tmp"' EXIT
kefo_start_kinesis_local
echo "demo: kinesis-local is listening on 127.0.0.1:$KEFO_KINESIS_PORT"
echo "demo: creating stream kefo-demo, putting 6 records, registering an EFO"
echo "      consumer and subscribing to the shard for 2.5 s ..."
node tests/harness/capture_subscription.js "$KEFO_KINESIS_PORT" kefo-demo 6 \
  2.5 "$tmp/subscription.bin"
echo "demo: the raw response is $(wc -c <"$tmp/subscription.bin") bytes of" \
  "application/vnd.amazon.eventstream; kefo decodes it:"
echo
./build/tools/kefo-eventstream "$tmp/subscription.bin"
echo
cat <<'MSG'
demo: what comes next. This build has kefo's wire formats (event-stream,
SigV4, KPL de-aggregation, base64, CRC32) and kefo-eventstream. The reader,
kefo-reader, is being built on them; when it lands this demo will run it
instead: register an EFO consumer (job-managed), subscribe to every shard
over HTTP/2, split a shard midway, read children after their parents, print
records as JSON lines with live per-shard progress, and deregister on exit.
MSG
echo "demo: stopping kinesis-local"
