#!/usr/bin/env bash
# Starts kinesis-local (consumers take 300 ms to register and deregister, so
# the manager's waiting is exercised), runs tests/consumer_manager_test, and
# always stops it.
bin=${KEFO_CM_TEST:-./tests/consumer_manager_test}
source "$(dirname "$0")/harness/test_setup.sh"
KEFO_KL_CONSUMER_DURATION=300ms kefo_start_kinesis_local
export KINESIS_PORT=$KEFO_KINESIS_PORT
"$bin"
