#!/usr/bin/env bash
# Starts the project's mock Kinesis server on an ephemeral loopback port
# (checking SigV4 with the test secret, writing 200 records a second to
# each of the test's two streams once it creates them), runs
# tests/integration/quiet_test (the library writes nothing to stdout or stderr on any
# error path) and always stops the server.
bin=${KEFO_QUIET_TEST:-./tests/integration/quiet_test}
KEFO_MOCK=${KEFO_MOCK:-./tests/support/mock/kinesis-mock}
source "$(dirname "$0")/../support/harness/test_setup.sh"
source "$here/harness/mock.sh"
kefo_start_mock --secret kefo-test-secret-key \
  --produce quiet-efo:200 --produce quiet-polling:200
export MOCK_QUIET_PORT=$KEFO_MOCK_PORT
"$bin"
