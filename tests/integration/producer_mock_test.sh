#!/usr/bin/env bash
# Starts two mock Kinesis servers on ephemeral loopback ports (one as
# fast as it goes, one that answers every call after 200 ms, for
# backpressure), runs tests/integration/producer_mock_test, and always
# stops them.
bin=${KEFO_PRODUCER_MOCK_TEST:-./tests/integration/producer_mock_test}
KEFO_MOCK=${KEFO_MOCK:-./tests/support/mock/kinesis-mock}
source "$(dirname "$0")/../support/harness/test_setup.sh"
source "$here/harness/mock.sh"
kefo_start_mock
MOCK_PORT=$KEFO_MOCK_PORT
kefo_start_mock --api-latency-ms 200
MOCK_SLOW_PORT=$KEFO_MOCK_PORT
export MOCK_PORT MOCK_SLOW_PORT
PRODUCER_CASES=functional "$bin" || exit $?
# Backpressure measures RSS: without ASan's quarantine of freed blocks
# (a no-op in a build without ASan).
PRODUCER_CASES=backpressure \
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" "$bin"
