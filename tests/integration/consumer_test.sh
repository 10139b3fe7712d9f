#!/usr/bin/env bash
# Starts kinesis-local and a local server with a small split stream on free
# loopback ports, runs tests/integration/consumer_test, and always stops them.
bin=${KEFO_CONSUMER_TEST:-./tests/integration/consumer_test}
source "$(dirname "$0")/../support/harness/test_setup.sh"
kefo_start_kinesis_local
kefo_start_h2_server FAKE_STREAM_PORT "$tmp/fake.log" --stream || exit 1
export KINESIS_PORT=$KEFO_KINESIS_PORT FAKE_STREAM_PORT
"$bin"
