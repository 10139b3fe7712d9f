#!/usr/bin/env bash
# Starts kinesis-local (consumers take 300 ms to register and deregister, so
# the manager's waiting is exercised), runs tests/consumer_manager_test, and
# always stops it.
set -euo pipefail
: "${KEFO_NODE_MODULES:?}"
here=$(cd "$(dirname "$0")" && pwd)
bin=${KEFO_CM_TEST:-./tests/consumer_manager_test}
KEFO_TOP=$(cd "$KEFO_NODE_MODULES/.." && pwd)
tmp=$(mktemp -d)
KEFO_EMULATOR_LOG_DIR=$tmp
source "$here/harness/emulators.sh"
trap 'kefo_stop_emulators; rm -rf "$tmp"' EXIT
KEFO_KL_CONSUMER_DURATION=300ms kefo_start_kinesis_local
export KINESIS_PORT=$KEFO_KINESIS_PORT
"$bin"
