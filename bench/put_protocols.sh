#!/usr/bin/env bash
# The producer's two protocols A/B on one mock server (issue 26):
# bench/bench_put writes RECORDS records of BYTES bytes over SHARDS shards
# with sink.protocol=json, then cbor, alternated for ROUNDS rounds, each
# run into its own fresh stream, plain and aggregated. Prints each run's
# CPU per record (the writer's own process) and the medians.
# An -O2 build without sanitizers in build-bench/.
# Usage: bash bench/put_protocols.sh [RECORDS] [BYTES] [SHARDS] [ROUNDS]
#        (default 300000 100 64 4)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
records=${1:-300000}
bytes=${2:-100}
shards=${3:-64}
rounds=${4:-4}

source "$top/bench/bench_env.sh"
preload=()
for r in $(seq 1 "$rounds"); do
  for p in json cbor; do
    for a in 0 1; do preload+=(--preload "ab-$p-$a-$r:$shards:0:0"); done
  done
done
KEFO_MOCK=$top/build-bench/tests/support/mock/kinesis-mock \
  kefo_start_mock --secret kefo-test-secret-key "${preload[@]}"
url=http://127.0.0.1:$KEFO_MOCK_PORT
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1 /proc/loadavg)"
echo "data: $records records of $bytes bytes over $shards shards, $rounds rounds"
out=$(mktemp)
for r in $(seq 1 "$rounds"); do
  for a in 0 1; do
    for p in json cbor; do
      "$top/build-bench/bench/bench_put" --endpoint "$url" \
        --stream "ab-$p-$a-$r" --records "$records" --bytes "$bytes" \
        --aggregate "$a" --set sink.rate-limit=1000 \
        --set "sink.protocol=$p" | sed "s/^{/{\"protocol\":\"$p\",/" >>"$out"
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
node -e '
const runs = require("fs").readFileSync(process.argv[1], "utf8").trim()
  .split("\n").map((l) => JSON.parse(l));
const med = (a) => { a = [...a].sort((x, y) => x - y); const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2; };
for (const agg of [false, true]) {
  const row = {};
  for (const p of ["json", "cbor"]) {
    const rs = runs.filter((r) => r.protocol === p && r.aggregation === agg);
    row[p] = med(rs.map((r) => r.cpu_us_per_record));
    console.log(`${agg ? "aggregated" : "plain     "} ${p}: CPU us/record ` +
      rs.map((r) => r.cpu_us_per_record.toFixed(3)).join(" ") +
      `  median ${row[p].toFixed(3)}  bytes/record ${rs[0].bytes_sent_per_record.toFixed(1)}`);
  }
  console.log(`${agg ? "aggregated" : "plain     "} cbor/json: ${(row.cbor / row.json).toFixed(3)}`);
}
' "$out"
rm -f "$out"
