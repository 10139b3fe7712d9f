#!/usr/bin/env bash
# Starts kinesis-local and dynalite on free loopback ports, runs
# tests/integration/lease_workers_test (three kefo-reader workers sharing a DynamoDB
# lease table), and always stops them.
bin=${KEFO_LEASE_WORKERS_TEST:-./tests/integration/lease_workers_test}
source "$(dirname "$0")/../support/harness/test_setup.sh"
kefo_start_kinesis_local
kefo_start_dynalite
export KINESIS_PORT=$KEFO_KINESIS_PORT DYNALITE_PORT=$KEFO_DYNALITE_PORT
export TMPDIR=$tmp KEFO_READER=${KEFO_READER:-$PWD/tools/kefo-reader}
if ! "$bin"; then
  echo "the workers' stderr:" >&2
  tail -n 60 "$tmp"/kefo-workers-*/kefo-reader.log >&2 || true
  exit 1
fi
