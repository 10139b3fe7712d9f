#!/usr/bin/env bash
# End to end on loopback (issue 10, path 2): the project's mock Kinesis
# server, preloaded with RECORDS records of BYTES bytes over SHARDS shards,
# read once by kefo (bench/bench_e2e, an EFO consumer through the public
# API) and once by the AWS SDK for JavaScript v3 (bench/peer/sdk_reader.mjs,
# SubscribeToShardCommand), each with its own registered consumer, one
# after the other in the same run. Prints both JSON lines and the ratios.
# An -O2 build without sanitizers in build-bench/.
# Usage: bash bench/e2e.sh [SHARDS] [RECORDS] [BYTES]   (64 1000000 1024)
# READER=POLLING: kefo's polling reader (GetRecords) alone, no peer.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
shards=${1:-64}
records=${2:-1000000}
bytes=${3:-1024}

source "$top/bench/bench_env.sh"
KEFO_MOCK=$top/build-bench/tests/support/mock/kinesis-mock \
  kefo_start_mock --secret kefo-test-secret-key \
  --preload "bench:$shards:$records:$bytes"
url=http://127.0.0.1:$KEFO_MOCK_PORT
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1 /proc/loadavg)"
echo "data: $records records of $bytes bytes over $shards shards, read from TRIM_HORIZON"
kefo=$("$top/build-bench/bench/bench_e2e" --endpoint "$url" --stream bench \
  --expect "$records" --consumer kefo-bench --reader "${READER:-EFO}")
echo "$kefo"
if [ "${READER:-EFO}" != EFO ]; then
  node -e '
const k = JSON.parse(process.argv[1]);
console.log(`kefo ${process.argv[2]}: ${(k.records / k.seconds).toFixed(0)} records/s, ` +
            `${((k.cpu_user_s + k.cpu_system_s) / (k.records / 1e6)).toFixed(2)} CPU s per million records ` +
            `(user ${(k.cpu_user_s / (k.records / 1e6)).toFixed(2)}), peak RSS ${k.rss_mib} MiB`);
' "$kefo" "$READER"
  exit 0
fi
peer=$(node --no-warnings "$top/bench/peer/sdk_reader.mjs" --endpoint "$url" --stream bench \
  --shards "$shards" --expect "$records" --consumer sdk-bench)
echo "$peer"
node -e '
const k = JSON.parse(process.argv[1]), p = JSON.parse(process.argv[2]);
const row = (n, r) => {
  const cpu = r.cpu_user_s + r.cpu_system_s;
  return { n, rps: r.records / r.seconds, mbs: r.bytes / r.seconds / 1e6,
           cpm: cpu / (r.records / 1e6), rss: r.rss_mib };
};
const a = row("kefo", k), b = row("AWS SDK JS v3", p);
const f = (x, d) => x.toFixed(d).padStart(12);
console.log("reader".padEnd(16) + "records/s".padStart(12) + "MB/s".padStart(12) +
            "CPU s/M rec".padStart(12) + "peak RSS MiB".padStart(13));
for (const r of [a, b])
  console.log(r.n.padEnd(16) + f(r.rps, 0) + f(r.mbs, 1) + f(r.cpm, 2) + f(r.rss, 1).padStart(13));
console.log(`kefo/peer: ${(a.rps / b.rps).toFixed(2)}x the records/s, ` +
            `${(b.cpm / a.cpm).toFixed(1)}x less CPU per record`);
' "$kefo" "$peer"
