#!/usr/bin/env bash
# Live streams (issue 10, paths 3 and 4): SHARDS shards on the project's
# mock server, which writes RATE records a second per shard of BYTES bytes
# (RATE 0: an idle stream, sent an empty event every 5 s per subscription
# as Kinesis does) and stamps each record with the time it writes the
# event (--stamp). kefo (bench/bench_e2e --live) and the AWS SDK for
# JavaScript v3 (bench/peer/sdk_reader.mjs --live) each read it from
# LATEST, in turn, each against a fresh server: once every shard has had
# an event and 3 s more have passed, SECONDS of RSS per subscribed shard,
# CPU, records/s and the latency from the server's write to the reader's
# callback. Uses the -O2 build in build-bench/.
# Usage: bash bench/live.sh SHARDS RATE BYTES SECONDS [kefo|peer|both]
# KEFO_BENCH_SET="KEY=VALUE ..." passes configuration keys to kefo.
# KEFO_BENCH_SCRAPE_MS=1000 renders kefo's metrics that often, as a
# Prometheus scrape would (issue 27), and reports the CPU it took.
# PRODUCE_EVERY_MS (10) is how often the server's producer writes what is
# due; at thousands of shards, 100 batches records into fewer events.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
shards=${1:?SHARDS}
rate=${2:?RATE per shard}
bytes=${3:?BYTES}
secs=${4:?SECONDS}
who=${5:-both}

source "$top/bench/bench_env.sh"
# One connection per subscription for the peer, and the server's side.
ulimit -n 65536 2>/dev/null || true

produce=()
if [ "$rate" -gt 0 ]; then
  produce=(--produce "live:$((shards * rate)):$bytes:${PRODUCE_EVERY_MS:-10}")
fi
serve() {
  KEFO_MOCK=$top/build-bench/tests/support/mock/kinesis-mock \
    kefo_start_mock --secret kefo-test-secret-key --idle-event-ms 5000 \
    --stamp --preload "live:$shards:0:0" "${produce[@]}"
  url=http://127.0.0.1:$KEFO_MOCK_PORT
  mock_pid=${KEFO_EMULATOR_PIDS[-1]}
  mock_t0=$(server_ticks)
  mock_s0=$(date +%s.%N)
}
# The server shares the CPUs: its load over the reader's whole run
# (subscription included) says whether it, not the reader, is the limit.
server_ticks() { awk '{print $14 + $15}' "/proc/$mock_pid/stat"; }
server_cpu() {
  local t1 s1
  t1=$(server_ticks)
  s1=$(date +%s.%N)
  awk -v t="$((t1 - mock_t0))" -v hz="$(getconf CLK_TCK)" -v a="$mock_s0" \
    -v b="$s1" 'BEGIN { printf "server: %.1f%% of a CPU over the reader'"'"'s run\n", 100 * t / hz / (b - a) }'
}
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1 /proc/loadavg)"
echo "stream: $shards shards, $rate records/s per shard of $bytes bytes, written every ${PRODUCE_EVERY_MS:-10} ms, measured for $secs s"
if [ "$who" != peer ]; then
  serve
  sets=()
  for kv in ${KEFO_BENCH_SET:-}; do sets+=(--set "$kv"); done
  if [ -n "${KEFO_BENCH_SCRAPE_MS:-}" ]; then
    sets+=(--scrape-ms "$KEFO_BENCH_SCRAPE_MS")
  fi
  "$top/build-bench/bench/bench_e2e" --endpoint "$url" --stream live "${sets[@]}" \
    --live "$secs" --shards "$shards" --consumer kefo-live
  server_cpu
  kefo_stop_emulators
  KEFO_EMULATOR_PIDS=()
fi
if [ "$who" != kefo ]; then
  serve
  node --no-warnings "$top/bench/peer/sdk_reader.mjs" --endpoint "$url" \
    --stream live --shards "$shards" --live "$secs" --consumer sdk-live
  server_cpu
  kefo_stop_emulators
  KEFO_EMULATOR_PIDS=()
fi
