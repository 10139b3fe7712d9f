#!/usr/bin/env bash
# bench/put.sh ROUNDS times in a row, then each writer's CPU per record
# and the SDK/kefo ratios of every round, least to most, with their
# medians. On the benchmark VM one run of put.sh moves by 10-20% (the
# system time on loopback by up to 3x, and a neighbour can slow the
# vector units for minutes): the median of several rounds, each with the
# SDK beside kefo, is the figure to quote.
# Usage: bash bench/put_rounds.sh [RECORDS] [BYTES] [SHARDS] [ROUNDS] [WARMUP]
#   (200000 1024 64 5 0; WARMUP as in put.sh)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
records=${1:-200000}
bytes=${2:-1024}
shards=${3:-64}
rounds=${4:-5}
warmup=${5:-0}
out=()
for ((round = 1; round <= rounds; round++)); do
  run=$(bash "$top/bench/put.sh" "$records" "$bytes" "$shards" "$warmup")
  echo "round $round:"
  echo "$run" | grep -v '^{'
  # The four writers' JSON lines, in put.sh's order.
  out+=("$(echo "$run" | grep '^{' | tr '\n' ' ')")
done
node -e '
const rounds = process.argv.slice(1).map((l) =>
  l.trim().split(/ (?=\{)/).map((s) => JSON.parse(s)));
const names = ["kefo", "kefo aggregated", "kefo in JSON", "AWS SDK JS v3"];
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const row = (label, xs, d) =>
  console.log(label.padEnd(34) + [...xs].sort((a, b) => a - b)
    .map((x) => x.toFixed(d)).join(" ") + "   median " + median(xs).toFixed(d));
console.log(`\n${rounds.length} rounds; CPU us per record, least to most:`);
names.forEach((n, i) => row(n, rounds.map((r) => r[i].cpu_us_per_record), 3));
console.log("SDK/kefo, each round its own SDK run:");
names.slice(0, 3).forEach((n, i) =>
  row(n, rounds.map((r) => r[3].cpu_us_per_record / r[i].cpu_us_per_record), 1));
' "${out[@]}"
