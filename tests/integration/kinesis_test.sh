#!/usr/bin/env bash
# Starts kinesis-local and the local HTTP/2 server on loopback ports they bind,
# runs tests/integration/kinesis_test, and always stops them.
bin=${KEFO_KINESIS_TEST:-./tests/integration/kinesis_test}
source "$(dirname "$0")/../support/harness/test_setup.sh"
kefo_start_h2_server H2_PLAIN_PORT "$tmp/h2.log" || exit 1
kefo_start_kinesis_local
export H2_PLAIN_PORT KINESIS_PORT=$KEFO_KINESIS_PORT
"$bin"
