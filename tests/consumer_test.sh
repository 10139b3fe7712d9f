#!/usr/bin/env bash
# Starts kinesis-local and a local server with a small split stream on free
# loopback ports, runs tests/consumer_test, and always stops them.
set -euo pipefail
: "${KEFO_NODE_MODULES:?}"
here=$(cd "$(dirname "$0")" && pwd)
bin=${KEFO_CONSUMER_TEST:-./tests/consumer_test}
KEFO_TOP=$(cd "$KEFO_NODE_MODULES/.." && pwd)
tmp=$(mktemp -d)
KEFO_EMULATOR_LOG_DIR=$tmp
source "$here/harness/emulators.sh"
trap 'kefo_stop_emulators; rm -rf "$tmp"' EXIT
kefo_start_kinesis_local
FAKE_STREAM_PORT=$(kefo_free_port)
node "$here/harness/h2_server.js" "$FAKE_STREAM_PORT" --stream \
  >"$tmp/fake.log" 2>&1 &
KEFO_EMULATOR_PIDS+=($!)
kefo_wait_port "$FAKE_STREAM_PORT" 20
export KINESIS_PORT=$KEFO_KINESIS_PORT FAKE_STREAM_PORT
"$bin"
