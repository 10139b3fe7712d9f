#!/usr/bin/env bash
# Starts four mock Kinesis servers on ephemeral loopback ports (1,000,000
# preloaded records over 16 shards; an empty one for resharding; one whose
# subscriptions last 2 s; 80 MB over 4 shards for a slow application), runs
# tests/integration/consumer_mock_test, and always stops them. MOCK_BIG_RECORDS and
# MOCK_LIFETIME_SECONDS shrink it for a quick run.
bin=${KEFO_CONSUMER_MOCK_TEST:-./tests/integration/consumer_mock_test}
KEFO_MOCK=${KEFO_MOCK:-./tests/support/mock/kinesis-mock}
source "$(dirname "$0")/../support/harness/test_setup.sh"
source "$here/harness/mock.sh"
export MOCK_BIG_RECORDS=${MOCK_BIG_RECORDS:-1000000}
kefo_start_mock --preload "big:16:$MOCK_BIG_RECORDS:100"
MOCK_BIG_PORT=$KEFO_MOCK_PORT
kefo_start_mock
MOCK_RESHARD_PORT=$KEFO_MOCK_PORT
kefo_start_mock --subscription-lifetime-ms 2000
MOCK_LIFETIME_PORT=$KEFO_MOCK_PORT
kefo_start_mock --preload "slow:4:80000:1000"
MOCK_SLOW_PORT=$KEFO_MOCK_PORT
export MOCK_BIG_PORT MOCK_RESHARD_PORT MOCK_LIFETIME_PORT MOCK_SLOW_PORT
"$bin"
