#!/usr/bin/env bash
# Scale (issue 10, path 3): RSS per subscribed shard and CPU at rest for
# SHARDS idle EFO subscriptions (default 1000) on the project's mock
# server, which sends an empty event every 5 s to an idle subscription.
# Uses the build-bench/ folder that bench/e2e.sh makes.
# Usage: bash bench/scale.sh [SHARDS] [SECONDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
shards=${1:-1000}
secs=${2:-30}
bash scripts/install-deps.sh >/dev/null
if [ ! -x configure ] || [ configure.ac -nt configure ] ||
   [ Makefile.am -nt Makefile.in ]; then
  ./autogen.sh >/tmp/kefo-autogen.out 2>&1 || { cat /tmp/kefo-autogen.out; exit 1; }
fi
mkdir -p build-bench
(cd build-bench &&
  { [ -f Makefile ] || CFLAGS="-O2 -g" ../configure >/dev/null; } &&
  make -j"$(nproc)" bench/bench_e2e tests/mock/kinesis-mock \
    >make.out 2>&1 || { cat make.out; exit 1; })
export KEFO_NODE_MODULES=$top/node_modules
source "$top/tests/harness/test_setup.sh"
source "$here/harness/mock.sh"
ulimit -n 65536 2>/dev/null || true
KEFO_MOCK=$top/build-bench/tests/mock/kinesis-mock \
  kefo_start_mock --secret kefo-test-secret-key --idle-event-ms 5000 \
  --preload "idle:$shards:1:10"
"$top/build-bench/bench/bench_e2e" --endpoint "http://127.0.0.1:$KEFO_MOCK_PORT" \
  --stream idle --idle "$secs" --shards "$shards"
