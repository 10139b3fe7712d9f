#!/usr/bin/env bash
# The soak (issue 9; not in CI): kefo reads SHARDS shards (default 1000)
# of the project's mock Kinesis server for SECONDS (default 600) while
# 2,000 records a second are written and a random fault strikes a random
# shard every second. Prints RSS, open descriptors and records every 30 s,
# and fails if a record was lost or repeated, a shard failed, descriptors
# leaked or the RSS grew. An optimised build without sanitizers (in
# build-soak/), so that the RSS is kefo's own.
# Usage: bash scripts/soak.sh [SECONDS] [SHARDS]
#   KEFO_SOAK_READER=POLLING for the polling reader (default EFO).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
secs=${1:-600}
shards=${2:-1000}

bash scripts/install-deps.sh >/dev/null
if [ ! -x configure ] || [ configure.ac -nt configure ] ||
   [ Makefile.am -nt Makefile.in ]; then
  ./autogen.sh >/tmp/kefo-autogen.out 2>&1 || { cat /tmp/kefo-autogen.out; exit 1; }
fi
mkdir -p build-soak
(cd build-soak &&
  { [ -f Makefile ] || CFLAGS="-O2 -g" ../configure >/dev/null; } &&
  make -j"$(nproc)" tests/support/mock/kinesis-mock tests/integration/fault_matrix_test \
    >make.out 2>&1 || { cat make.out; exit 1; })

cd build-soak
export KEFO_NODE_MODULES=$top/node_modules
source "$top/tests/support/harness/test_setup.sh"
source "$here/harness/mock.sh"
# The mock's own descriptors: a server can run out before kefo does.
ulimit -n 65536 2>/dev/null || true
kefo_start_mock --secret kefo-test-secret-key
export MOCK_FAULT_PORT=$KEFO_MOCK_PORT
./tests/integration/fault_matrix_test --soak "$secs" "$shards"
