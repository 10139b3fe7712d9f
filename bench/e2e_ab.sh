#!/usr/bin/env bash
# Path 2's kefo half as an A/B: one mock server preloaded as bench/e2e.sh
# does (64 shards, 1,000,000 records of 1 KiB by default), read in turn by
# bench/bench_e2e of an older build and of this tree's build-bench/, each
# with a consumer of its own, ROUNDS times alternated. Prints each read's
# JSON line (records, seconds, first record, user and system CPU, peak
# RSS) after its name.
# Usage: bash bench/e2e_ab.sh BEFORE_BUILD_DIR [ROUNDS] [SHARDS] [RECORDS] [BYTES]
#   BEFORE_BUILD_DIR: a build folder of another tree whose bench/bench_e2e
#   is built (make bench/bench_e2e there).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
before=${1:?usage: bash bench/e2e_ab.sh BEFORE_BUILD_DIR [ROUNDS]}
rounds=${2:-3}
shards=${3:-64}
records=${4:-1000000}
bytes=${5:-1024}
[ -x "$before/bench/bench_e2e" ] || {
  echo "e2e_ab: no $before/bench/bench_e2e (make bench/bench_e2e there)" >&2
  exit 2
}
cd "$top"
source "$top/bench/bench_env.sh"
KEFO_MOCK=$top/build-bench/tests/support/mock/kinesis-mock \
  kefo_start_mock --secret kefo-test-secret-key \
  --preload "bench:$shards:$records:$bytes"
url=http://127.0.0.1:$KEFO_MOCK_PORT
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1 /proc/loadavg)"
for ((round = 1; round <= rounds; round++)); do
  for ab in "before=$before" "after=$top/build-bench"; do
    name=${ab%%=*}
    out=$("${ab#*=}/bench/bench_e2e" --endpoint "$url" --stream bench \
      --expect "$records" --consumer "kefo-$name-$round" --reader EFO)
    echo "$name $out"
  done
done
echo "load after: $(cut -d' ' -f1 /proc/loadavg)"
