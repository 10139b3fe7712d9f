#!/usr/bin/env bash
# Starts kinesis-local on free loopback ports, runs tests/integration/consumer_kl_test
# for both reader types (volume, restart from a checkpoint, self-managed EFO
# consumers, polling through a split and a merge), and always
# stops it.
bin=${KEFO_CONSUMER_KL_TEST:-./tests/integration/consumer_kl_test}
source "$(dirname "$0")/../support/harness/test_setup.sh"
kefo_start_kinesis_local
export KINESIS_PORT=$KEFO_KINESIS_PORT TMPDIR=$tmp
"$bin"
