#!/usr/bin/env bash
# Start-up (issue 10, path 5): time to first record for a JOB_MANAGED EFO
# consumer of a stream of SHARDS shards (default 100), each holding
# RECORDS records (default 100) of 1 KiB, from a cold start: resolve the
# stream, register the consumer, wait for it to become ACTIVE, list the
# shards, subscribe. The mock server answers every call after
# LATENCY ms (default 30, a caller in the region) and keeps a new consumer
# CREATING for ACTIVATE ms (default 5000). kefo (bench/bench_e2e) and the
# AWS SDK for JavaScript v3 (bench/peer/sdk_reader.mjs) each start against
# a fresh server and read the whole stream; both report first_record_s.
# Usage: bash bench/startup.sh [SHARDS] [RECORDS] [LATENCY] [ACTIVATE]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
shards=${1:-100}
per=${2:-100}
latency=${3:-30}
activate=${4:-5000}

source "$top/bench/bench_env.sh"

records=$((shards * per))
serve() {
  KEFO_MOCK=$top/build-bench/tests/support/mock/kinesis-mock \
    kefo_start_mock --secret kefo-test-secret-key \
    --api-latency-ms "$latency" --consumer-delay-ms "$activate" \
    --preload "start:$shards:$records:1024"
  url=http://127.0.0.1:$KEFO_MOCK_PORT
}
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1 /proc/loadavg)"
echo "stream: $shards shards, $records records; every answer after $latency ms, a consumer ACTIVE $activate ms after registration"
serve
kefo=$("$top/build-bench/bench/bench_e2e" --endpoint "$url" --stream start \
  --expect "$records" --consumer kefo-start)
echo "$kefo"
kefo_stop_emulators
serve
peer=$(node --no-warnings "$top/bench/peer/sdk_reader.mjs" --endpoint "$url" \
  --stream start --shards "$shards" --expect "$records" --consumer sdk-start)
echo "$peer"
kefo_stop_emulators
node -e '
const k = JSON.parse(process.argv[1]), p = JSON.parse(process.argv[2]);
console.log("time to first record: kefo " + k.first_record_s.toFixed(2) +
            " s, AWS SDK JS v3 " + p.first_record_s.toFixed(2) + " s; all " +
            k.records + " records: kefo " + k.seconds.toFixed(2) +
            " s, AWS SDK JS v3 " + p.total_s.toFixed(2) + " s");
' "$kefo" "$peer"
