#!/usr/bin/env bash
# Starts the project's mock Kinesis server on an ephemeral loopback port
# (checking SigV4 with the test secret), runs tests/integration/fault_matrix_test (the
# fault matrix, both readers) and always stops the server.
bin=${KEFO_FAULT_MATRIX_TEST:-./tests/integration/fault_matrix_test}
KEFO_MOCK=${KEFO_MOCK:-./tests/support/mock/kinesis-mock}
source "$(dirname "$0")/../support/harness/test_setup.sh"
source "$here/harness/mock.sh"
kefo_start_mock --secret kefo-test-secret-key
export MOCK_FAULT_PORT=$KEFO_MOCK_PORT
"$bin"
