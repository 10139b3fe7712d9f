#!/usr/bin/env bash
# Path 6's kefo half as an A/B: one mock server with four empty streams of
# SHARDS shards, written in turn by bench/bench_put of an older build and
# of this tree's build-bench/, plain then aggregated, ROUNDS times
# alternated (the streams are reused round after round). Prints one line
# per write: which build, aggregation, CPU us per record, user and system
# seconds, and the counts acknowledged and failed; then each side's user
# seconds per record, least to most, since the system time on loopback
# moves by 3x between identical runs on the benchmark VM.
# KEFO_BENCH_MOCK_ARGS="..." adds options to the mock server, such as
# "--api-latency-ms 50" for a server that answers the way a region away
# does (a body then waits for its answer in the socket, not in memory).
# Usage: bash bench/put_ab.sh BEFORE_BUILD_DIR [ROUNDS] [RECORDS] [BYTES] [SHARDS]
#   BEFORE_BUILD_DIR: a build folder of another tree whose bench/bench_put
#   is built (make bench/bench_put there).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
before=${1:?usage: bash bench/put_ab.sh BEFORE_BUILD_DIR [ROUNDS] [RECORDS] [BYTES] [SHARDS]}
rounds=${2:-4}
records=${3:-200000}
bytes=${4:-1024}
shards=${5:-64}
[ -x "$before/bench/bench_put" ] || {
  echo "put_ab: no $before/bench/bench_put (make bench/bench_put there)" >&2
  exit 2
}
cd "$top"
source "$top/bench/bench_env.sh"
KEFO_MOCK=$top/build-bench/tests/support/mock/kinesis-mock \
  kefo_start_mock --secret kefo-test-secret-key \
  --preload "ab0:$shards:0:0" --preload "ab1:$shards:0:0" \
  --preload "ab2:$shards:0:0" --preload "ab3:$shards:0:0" \
  ${KEFO_BENCH_MOCK_ARGS:-}
url=http://127.0.0.1:$KEFO_MOCK_PORT
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1 /proc/loadavg)"
echo "data: $records records of $bytes bytes, random partition keys, over $shards shards"
echo "mock server options: ${KEFO_BENCH_MOCK_ARGS:-none}"
lines=()
n=0
for ((round = 1; round <= rounds; round++)); do
  for agg in 0 1; do
    for ab in "before=$before" "after=$top/build-bench"; do
      out=$("${ab#*=}/bench/bench_put" --endpoint "$url" --stream "ab$((n % 4))" \
        --records "$records" --bytes "$bytes" --aggregate "$agg" \
        --set sink.rate-limit=1000)
      n=$((n + 1))
      line="${ab%%=*} $agg $out"
      lines+=("$line")
      node -e '
const [who, agg, json] = process.argv.slice(1);
const r = JSON.parse(json);
console.log(`${who.padEnd(7)} ${agg === "1" ? "aggregated" : "plain     "} ` +
            `CPU us/record ${r.cpu_us_per_record.toFixed(3)}  user ${r.cpu_user_s.toFixed(3)} s` +
            `  sys ${r.cpu_system_s.toFixed(3)} s  RSS ${r.rss_mib.toFixed(1)} MiB` +
            `  acknowledged ${r.acknowledged}  failed ${r.failed}`);
' "${ab%%=*}" "$agg" "$out"
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${lines[@]}" | node -e '
const rows = require("fs").readFileSync(0, "utf8").trim().split("\n").map((l) => {
  const [who, agg, ...rest] = l.split(" ");
  return { who, agg, r: JSON.parse(rest.join(" ")) };
});
for (const agg of ["0", "1"])
  for (const who of ["before", "after"]) {
    const u = rows.filter((x) => x.who === who && x.agg === agg)
      .map((x) => (x.r.cpu_user_s * 1e6 / x.r.records).toFixed(3)).sort();
    console.log(`${who.padEnd(7)} ${agg === "1" ? "aggregated" : "plain     "} user us/record: ${u.join(" ")}`);
    const c = rows.filter((x) => x.who === who && x.agg === agg)
      .map((x) => x.r.cpu_us_per_record).sort((p, q) => p - q).map((v) => v.toFixed(3));
    console.log(`${who.padEnd(7)} ${agg === "1" ? "aggregated" : "plain     "} CPU us/record:  ${c.join(" ")}`);
  }'
