#!/usr/bin/env bash
# Starts the project's mock Kinesis server on an ephemeral loopback port
# with a preloaded stream (MOCK_STOP_RECORDS records of MOCK_STOP_BYTES
# bytes over 4 shards; 100,000 of 1,000 unless set: about 1,000 records an
# event, so a run makes many on_records calls), runs tests/integration/stop_async_test (the consumer
# stopped by kefo_consumer_stop_async from a thread and from a SIGALRM
# handler while records flow) and always stops the server.
# KEFO_STOP_ITERATIONS and KEFO_STOP_SEED are passed on.
bin=${KEFO_STOP_ASYNC_TEST:-./tests/integration/stop_async_test}
KEFO_MOCK=${KEFO_MOCK:-./tests/support/mock/kinesis-mock}
source "$(dirname "$0")/../support/harness/test_setup.sh"
source "$here/harness/mock.sh"
export MOCK_STOP_RECORDS=${MOCK_STOP_RECORDS:-100000}
MOCK_STOP_BYTES=${MOCK_STOP_BYTES:-1000}
kefo_start_mock --secret kefo-test-secret-key \
  --preload "stop:4:$MOCK_STOP_RECORDS:$MOCK_STOP_BYTES"
export MOCK_STOP_PORT=$KEFO_MOCK_PORT
${KEFO_STOP_ASYNC_WRAP:-} "$bin"
