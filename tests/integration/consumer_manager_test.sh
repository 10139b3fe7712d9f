#!/usr/bin/env bash
# Starts kinesis-local (consumers take 300 ms to register and deregister, so
# the manager's waiting is exercised) and the project's mock server
# (consumers CREATING for 1 s), runs tests/integration/consumer_manager_test, and
# always stops them.
bin=${KEFO_CM_TEST:-./tests/integration/consumer_manager_test}
source "$(dirname "$0")/../support/harness/test_setup.sh"
KEFO_KL_CONSUMER_DURATION=300ms kefo_start_kinesis_local
export KINESIS_PORT=$KEFO_KINESIS_PORT
KEFO_MOCK=${KEFO_MOCK:-./tests/support/mock/kinesis-mock}
source "$here/harness/mock.sh"
kefo_start_mock --consumer-delay-ms 1000 --preload cadence:1:0:0
export MOCK_PORT=$KEFO_MOCK_PORT
"$bin"
