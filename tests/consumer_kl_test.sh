#!/usr/bin/env bash
# Starts kinesis-local on free loopback ports, runs tests/consumer_kl_test
# for both reader types (volume, restart from a checkpoint, self-managed EFO
# consumers, polling through a split and a merge), and always
# stops it.
set -euo pipefail
: "${KEFO_NODE_MODULES:?}"
here=$(cd "$(dirname "$0")" && pwd)
bin=${KEFO_CONSUMER_KL_TEST:-./tests/consumer_kl_test}
KEFO_TOP=$(cd "$KEFO_NODE_MODULES/.." && pwd)
tmp=$(mktemp -d)
KEFO_EMULATOR_LOG_DIR=$tmp
source "$here/harness/emulators.sh"
trap 'kefo_stop_emulators; rm -rf "$tmp"' EXIT
kefo_start_kinesis_local
export KINESIS_PORT=$KEFO_KINESIS_PORT TMPDIR=$tmp
"$bin"
