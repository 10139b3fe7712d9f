#!/usr/bin/env bash
# Starts kinesis-local on free loopback ports, runs tests/consumer_test, and
# always stops it.
set -euo pipefail
: "${KEFO_NODE_MODULES:?}"
here=$(cd "$(dirname "$0")" && pwd)
bin=${KEFO_CONSUMER_TEST:-./tests/consumer_test}
KEFO_TOP=$(cd "$KEFO_NODE_MODULES/.." && pwd)
tmp=$(mktemp -d)
KEFO_EMULATOR_LOG_DIR=$tmp
source "$here/harness/emulators.sh"
trap 'kefo_stop_emulators; rm -rf "$tmp"' EXIT
kefo_start_kinesis_local
export KINESIS_PORT=$KEFO_KINESIS_PORT
"$bin"
