#!/usr/bin/env bash
# The quickstart: installs what is missing, builds kefo, starts kinesis-local
# on a free loopback port, writes records to a new stream, captures a raw
# SubscribeToShard (Enhanced Fan-Out) response and decodes it with
# kefo-eventstream, then reads the stream with kefo-reader (a job-managed
# EFO consumer, deregistered when it stops), and stops the emulator. It
# leaves nothing running.
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
echo "demo: now kefo-reader reads the stream over HTTP/2 as a job-managed EFO"
echo "      consumer for 8 s (records on stdout, progress on stderr):"
echo
AWS_ACCESS_KEY_ID=AKIDKEFODEMO AWS_SECRET_ACCESS_KEY=kefo-demo-not-a-secret \
  ./build/tools/kefo-reader --stream kefo-demo --region us-east-1 \
  --endpoint "http://127.0.0.1:$KEFO_KINESIS_PORT" --start trim-horizon \
  --consumer-name kefo-demo-reader --duration 8
echo
cat <<'MSG'
demo: not shown yet (being built): polling, checkpoints and leases,
watermark alignment, resharding while reading, the live progress table.
On AWS: kefo-reader --stream NAME --region REGION, with credentials from
the usual places (environment, ~/.aws, instance or container roles).
MSG
echo "demo: stopping kinesis-local"
