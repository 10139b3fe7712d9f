#!/usr/bin/env bash
# Writing on loopback (issue 26): the project's mock Kinesis server with
# four empty streams of SHARDS shards, written in turn, each by its own
# process: kefo's producer (bench/bench_put, through the public API) with
# aggregation off, then on (both in CBOR, sink.protocol's default), then
# off in JSON (sink.protocol=json, the SDK's protocol), and the AWS SDK
# for JavaScript v3
# (bench/peer/sdk_put.mjs, PutRecordsCommand, 500 entries a call, 50 calls
# in flight). Each puts RECORDS records of BYTES bytes with random
# partition keys as fast as it can and reports its own process's CPU; the
# server's is no writer's. Prints the four JSON lines and the ratios.
# kefo runs with sink.rate-limit at its maximum (1000: ten times a shard's
# 1 MiB/s and 1,000 records/s); the SDK has no limit and the mock enforces
# none on PutRecords. KEFO_BENCH_SET="k=v ..." adds producer settings;
# KEFO_BENCH_LENT=1 has kefo's writers lend their records
# (kefo_producer_put_lent) rather than have them copied, as the SDK's
# writer hands its client views into its pool.
# With WARMUP, each writer first writes WARMUP records off the clock (the
# figures are then of writers whose buffers, and the SDK's compiled code,
# are already in place, as in a long-running application); without,
# the clock covers the first record too.
# An -O2 build without sanitizers in build-bench/.
# Usage: bash bench/put.sh [RECORDS] [BYTES] [SHARDS] [WARMUP]
#   (200000 100 4 0)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
records=${1:-200000}
bytes=${2:-100}
shards=${3:-4}
warmup=${4:-0}

source "$top/bench/bench_env.sh"
KEFO_MOCK=$top/build-bench/tests/support/mock/kinesis-mock \
  kefo_start_mock --secret kefo-test-secret-key \
  --preload "put-kefo:$shards:0:0" --preload "put-kefo-agg:$shards:0:0" \
  --preload "put-kefo-json:$shards:0:0" --preload "put-sdk:$shards:0:0"
url=http://127.0.0.1:$KEFO_MOCK_PORT
kefo_opts=(--set sink.rate-limit=1000 --lent "${KEFO_BENCH_LENT:-0}")
for kv in ${KEFO_BENCH_SET:-}; do kefo_opts+=(--set "$kv"); done
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1 /proc/loadavg)"
echo "data: $records records of $bytes bytes, random partition keys, over $shards shards, after a warm-up of $warmup"
echo "kefo's limit (sink.rate-limit=1000): $((shards * 10000)) records/s, $((shards * 10)) MiB/s"
plain=$("$top/build-bench/bench/bench_put" --endpoint "$url" \
  --stream put-kefo --records "$records" --warmup "$warmup" --bytes "$bytes" --aggregate 0 \
  "${kefo_opts[@]}")
echo "$plain"
agg=$("$top/build-bench/bench/bench_put" --endpoint "$url" \
  --stream put-kefo-agg --records "$records" --warmup "$warmup" --bytes "$bytes" --aggregate 1 \
  "${kefo_opts[@]}")
echo "$agg"
json=$("$top/build-bench/bench/bench_put" --endpoint "$url" \
  --stream put-kefo-json --records "$records" --warmup "$warmup" --bytes "$bytes" --aggregate 0 \
  "${kefo_opts[@]}" --set sink.protocol=json)
echo "$json"
peer=$(node --no-warnings "$top/bench/peer/sdk_put.mjs" --endpoint "$url" \
  --stream put-sdk --records "$records" --warmup "$warmup" --bytes "$bytes")
echo "$peer"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
node -e '
const [k, a, j, p] = process.argv.slice(1, 5).map((s) => JSON.parse(s));
const f = (x, d, w = 11) => x.toFixed(d).padStart(w);
console.log("writer".padEnd(22) + "records/s".padStart(11) + "CPU us/rec".padStart(11) +
            "user s".padStart(11) + "sys s".padStart(11) + "calls".padStart(11) +
            "rec/call".padStart(11) + "bytes/rec".padStart(11) + "RSS MiB".padStart(11));
for (const [n, r] of [["kefo", k], ["kefo aggregated", a], ["kefo in JSON", j],
                      ["AWS SDK JS v3", p]])
  console.log(n.padEnd(22) + f(r.records_per_s, 0) + f(r.cpu_us_per_record, 3) +
              f(r.cpu_user_s, 3) + f(r.cpu_system_s, 3) + f(r.calls, 0) +
              f(r.records_per_call, 1) + f(r.bytes_sent_per_record, 1) + f(r.rss_mib, 1));
// What sink.rate-limit=1000 allows, in user records a second: plain, the
// records and bytes of the shards (data and 16-byte keys); aggregated,
// the bytes only (an aggregate counts as one record).
const shards = +process.argv[5], perSec = 10 * 1048576 * shards / (k.bytes + 16);
for (const [n, r, lim] of [["kefo", k, Math.min(10000 * shards, perSec)],
                           ["kefo aggregated", a, perSec]])
  if (r.records_per_s > 0.8 * lim)
    console.log(`note: ${n} ran at ${(100 * r.records_per_s / lim).toFixed(0)}% of its rate limit; ` +
                "give more shards to measure CPU rather than the limit");
console.log(`SDK/kefo CPU per record: ${(p.cpu_us_per_record / k.cpu_us_per_record).toFixed(1)}x plain, ` +
            `${(p.cpu_us_per_record / a.cpu_us_per_record).toFixed(1)}x aggregated, ` +
            `${(p.cpu_us_per_record / j.cpu_us_per_record).toFixed(1)}x plain in JSON`);
' "$plain" "$agg" "$json" "$peer" "$shards"
