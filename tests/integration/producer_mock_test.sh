#!/usr/bin/env bash
# Starts three mock Kinesis servers on ephemeral loopback ports (one as
# fast as it goes, one that answers every call after 200 ms, for
# backpressure, and one behind TLS with a throwaway test CA), runs
# tests/integration/producer_mock_test, and always stops them.
bin=${KEFO_PRODUCER_MOCK_TEST:-./tests/integration/producer_mock_test}
KEFO_MOCK=${KEFO_MOCK:-./tests/support/mock/kinesis-mock}
source "$(dirname "$0")/../support/harness/test_setup.sh"
source "$here/harness/mock.sh"
kefo_start_mock
MOCK_PORT=$KEFO_MOCK_PORT
kefo_start_mock --api-latency-ms 200
MOCK_SLOW_PORT=$KEFO_MOCK_PORT
"$here/harness/make_test_ca.sh" "$tmp/ca" >/dev/null
kefo_start_mock --tls "$tmp/ca/server.pem" "$tmp/ca/server.key"
MOCK_TLS_PORT=$KEFO_MOCK_PORT
export MOCK_PORT MOCK_SLOW_PORT
PRODUCER_CASES=functional "$bin" || exit $?
# Kinesis is reached only with TLS: the round trip, the faults and a stop
# at once again, through kefo's TLS.
PRODUCER_CASES=tls MOCK_PORT=$MOCK_TLS_PORT MOCK_CA="$tmp/ca/ca.pem" "$bin" ||
  exit $?
# Backpressure measures RSS: without ASan's quarantine of freed blocks
# (a no-op in a build without ASan).
PRODUCER_CASES=backpressure \
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" "$bin"
