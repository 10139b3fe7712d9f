#!/usr/bin/env bash
# Starts kinesis-local and a local server with a small split stream on free
# loopback ports, runs tests/integration/consumer_test, and always stops them.
bin=${KEFO_CONSUMER_TEST:-./tests/integration/consumer_test}
source "$(dirname "$0")/../support/harness/test_setup.sh"
kefo_start_kinesis_local
FAKE_STREAM_PORT=$(kefo_free_port)
node "$here/harness/h2_server.js" "$FAKE_STREAM_PORT" --stream \
  >"$tmp/fake.log" 2>&1 &
KEFO_EMULATOR_PIDS+=($!)
kefo_wait_port "$FAKE_STREAM_PORT" 20
export KINESIS_PORT=$KEFO_KINESIS_PORT FAKE_STREAM_PORT
"$bin"
