#!/usr/bin/env bash
# Starts dynalite on a free loopback port, runs tests/dynamodb_test, and
# always stops it.
set -euo pipefail
: "${KEFO_NODE_MODULES:?}"
here=$(cd "$(dirname "$0")" && pwd)
bin=${KEFO_DYNAMODB_TEST:-./tests/dynamodb_test}
KEFO_TOP=$(cd "$KEFO_NODE_MODULES/.." && pwd)
tmp=$(mktemp -d)
KEFO_EMULATOR_LOG_DIR=$tmp
source "$here/harness/emulators.sh"
trap 'kefo_stop_emulators; rm -rf "$tmp"' EXIT
kefo_start_dynalite
export DYNALITE_PORT=$KEFO_DYNALITE_PORT
"$bin"
