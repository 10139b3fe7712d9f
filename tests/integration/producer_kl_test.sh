#!/usr/bin/env bash
# Starts kinesis-local on free loopback ports, runs
# tests/integration/producer_mock_test's round trips against it (20,000
# records plain and aggregated, and aggregated in the ordering mode, read
# back by kefo's consumer), and always stops it.
bin=${KEFO_PRODUCER_MOCK_TEST:-./tests/integration/producer_mock_test}
source "$(dirname "$0")/../support/harness/test_setup.sh"
kefo_start_kinesis_local
export KINESIS_PORT=$KEFO_KINESIS_PORT TMPDIR=$tmp
"$bin"
