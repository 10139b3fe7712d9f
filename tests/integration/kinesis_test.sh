#!/usr/bin/env bash
# Starts kinesis-local and the local HTTP/2 server on free loopback ports,
# runs tests/integration/kinesis_test, and always stops them.
bin=${KEFO_KINESIS_TEST:-./tests/integration/kinesis_test}
source "$(dirname "$0")/../support/harness/test_setup.sh"
H2_PLAIN_PORT=$(kefo_free_port)
node "$here/harness/h2_server.js" "$H2_PLAIN_PORT" >"$tmp/h2.log" 2>&1 &
KEFO_EMULATOR_PIDS+=($!)
kefo_wait_port "$H2_PLAIN_PORT" 20
kefo_start_kinesis_local
export H2_PLAIN_PORT KINESIS_PORT=$KEFO_KINESIS_PORT
"$bin"
