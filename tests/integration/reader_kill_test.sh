#!/usr/bin/env bash
# Starts kinesis-local on free loopback ports, runs tests/integration/reader_kill_test
# (kefo-reader SIGKILLed and restarted on a checkpoint file), and always
# stops it.
bin=${KEFO_READER_KILL_TEST:-./tests/integration/reader_kill_test}
source "$(dirname "$0")/../support/harness/test_setup.sh"
kefo_start_kinesis_local
export KINESIS_PORT=$KEFO_KINESIS_PORT TMPDIR=$tmp
export KEFO_READER=${KEFO_READER:-$PWD/tools/kefo-reader}
if ! "$bin"; then
  echo "kefo-reader's stderr:" >&2
  tail -n 40 "$tmp"/kefo-kill-*/kefo-reader.log >&2 || true
  exit 1
fi
