#!/usr/bin/env bash
# Path 5 (issue 28): a persisted stream read from kinesis-local, an
# independently written server, rather than from the project's own mock.
# Two 4-shard streams, SMALL records of 100 B and LARGE records of 1 KiB,
# are written once into kinesis-local's own persistence
# (SHOULD_PERSIST_DATA, PERSIST_PATH under $KEFO_BENCH_CACHE, default
# /var/tmp/kefo-path5, kept between runs: PutRecords on kinesis-local
# slows as a shard grows, to about 60 records/s at 14,000 a shard, so
# 200,000 records would take most of an hour; 100,000 is the default),
# counted once by a full read, and then each round reads both from
# TRIM_HORIZON with `kefo-reader --format none` and with the AWS SDK for
# JavaScript v3 (bench/peer/sdk_subscribe_read.mjs), alternately, each
# under /usr/bin/time. A reader that does not read exactly the records
# written fails the run. Prints one table: user and system seconds, CPU
# per record, peak RSS and page faults of the reader's process alone (the
# server runs on the same cores and is nobody's).
# Uses the -O2 build in build-bench/.
# Usage: bash bench/path5.sh [ROUNDS] [SMALL] [LARGE]   (2 100000 50000)
# KEFO_BENCH_SET="KEY=VALUE ..." passes configuration keys to kefo-reader.
# PATH5_ONLY=kefo|sdk reads with one reader only; PATH5_WRAP="perf record
# -g -o F --" (or "strace -c -f -o F") runs kefo-reader under a profiler.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rounds=${1:-2}
small=${2:-100000}
large=${3:-50000}
cache=${KEFO_BENCH_CACHE:-/var/tmp/kefo-path5}
only=${PATH5_ONLY:-both}

source "$top/bench/bench_env.sh"
(cd "$top/build-bench" && make -j"$(nproc)" tools/kefo-reader tools/kefo-put \
  >make.out 2>&1 || { cat make.out; exit 1; })
mkdir -p "$cache"
# kinesis-local keeps every stream in one JSON file there (about 360 B a
# 100 B record), rewritten whole every PERSIST_INTERVAL while it runs
# (seconds of its CPU at tens of MB: not every 5 s while writing) and
# loaded at start.
export SHOULD_PERSIST_DATA=true PERSIST_PATH=$cache PERSIST_INTERVAL=30s
t=$(date +%s.%N)
kefo_start_kinesis_local
port=$KEFO_KINESIS_PORT
url=http://127.0.0.1:$port
# Signatures are not checked; the reader and writer only need some.
export AWS_ACCESS_KEY_ID=AKIDKEFOTEST AWS_SECRET_ACCESS_KEY=kefo-test-secret-key
export AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
kl() { node "$here/harness/kl_call.js" "$port" "$@"; }
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1 /proc/loadavg)"
echo "kinesis-local 0.6.2 on $url, data in $cache ($(du -sh "$cache" | cut -f1)), up in $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"

# kefo-reader from TRIM_HORIZON until LIMIT records (or SECS seconds);
# prints the number it read (its summary line's), or fails.
kefo_read() { # stream consumer limit secs [wrapper...]
  local stream=$1 consumer=$2 limit=$3 secs=$4 sets=() kv
  shift 4
  if [ -n "${KEFO_BENCH_SET:-}" ]; then
    for kv in $KEFO_BENCH_SET; do echo "$kv"; done >"$log/kefo.conf"
    sets=(--config "$log/kefo.conf")
  fi
  "$@" "$top/build-bench/tools/kefo-reader" --endpoint "$url" \
    --stream "$stream" --consumer-name "$consumer" --start trim-horizon \
    --format none --stats-interval 0 --log-level error \
    ${limit:+--limit "$limit"} --duration "$secs" "${sets[@]}" \
    2>"$log/kefo.err" || { cat "$log/kefo.err" >&2; return 1; }
  sed -n 's/^kefo-reader: \([0-9]*\) records,.*/\1/p' "$log/kefo.err" | tail -1
}
log=$tmp # test_setup.sh's, removed at exit

# Writes a stream once: created afresh (a write cut short earlier is
# thrown away), COUNT records of BYTES bytes with random keys by kefo-put
# (PutRecords of 500, only failed entries sent again), then read whole
# and counted before it is marked done.
ensure_stream() { # name count bytes
  local name=$1 count=$2 bytes=$3 n t0
  if [ "$(cat "$cache/$name.done" 2>/dev/null)" = "$count" ]; then
    return 0
  fi
  echo "writing $name: $count records of $bytes B over 4 shards (once)"
  kl DeleteStream "{\"StreamName\":\"$name\"}" >/dev/null 2>&1 || true
  kl CreateStream "{\"StreamName\":\"$name\",\"ShardCount\":4}" >/dev/null
  t0=$(date +%s)
  # Calls get slower as the shards fill up (several seconds each near
  # 50,000 records a shard): a record may wait long, and few calls in
  # flight keep each one's wait down.
  "$top/build-bench/tools/kefo-put" --endpoint "$url" --stream "$name" \
    --count "$count" --size "$bytes" --set sink.rate-limit=1000 \
    --set sink.record.ttl=2h --set sink.requests.max-inflight=4 \
    --set aws.http.request-timeout=10m
  echo "$name written in $(($(date +%s) - t0)) s"
  sleep 65 # PERSIST_INTERVAL, twice over
  # Counted by a read of the whole stream: an idle minute after the last
  # event is enough at one event a second per shard.
  n=$(kefo_read "$name" "kefo-count-$name" "" $((count / 2000 + 60)))
  if [ "$n" != "$count" ]; then
    echo "$name: $n records read back, not $count" >&2
    exit 1
  fi
  echo "$count" >"$cache/$name.done"
}
s_name=path5-100b-$small
l_name=path5-1k-$large
ensure_stream "$s_name" "$small" 100
ensure_stream "$l_name" "$large" 1024
[ "${PATH5_WRITE_ONLY:-}" ] && exit 0

tfmt='%U %S %M %F %R %e'
results=$log/rows
: >"$results"
run_kefo() { # stream count round
  local t=$log/time.$$
  local n
  n=$(kefo_read "$1" "kefo-p5-$1" "$2" 600 /usr/bin/time -o "$t" -f "$tfmt" ${PATH5_WRAP:-})
  [ "$n" = "$2" ] || { echo "kefo-reader read $n of $2 records of $1" >&2; exit 1; }
  echo "kefo-reader $1 $2 $(tail -1 "$t")" >>"$results"
}
run_sdk() { # stream count round
  local t=$log/time.$$ out n
  out=$(/usr/bin/time -o "$t" -f "$tfmt" node --no-warnings \
    "$top/bench/peer/sdk_subscribe_read.mjs" --endpoint "$url" --stream "$1" \
    --expect "$2" --consumer "sdk-p5-$1")
  n=$(node -e 'console.log(JSON.parse(process.argv[1]).records)' "$out")
  [ "$n" = "$2" ] || { echo "SDK peer read $n of $2 records of $1: $out" >&2; exit 1; }
  echo "sdk-js-v3 $1 $2 $(tail -1 "$t")" >>"$results"
}
for ((r = 1; r <= rounds; r++)); do
  for s in "$s_name:$small" "$l_name:$large"; do
    # Alternated: kefo first in odd rounds, the SDK first in even ones.
    if ((r % 2)); then order="kefo sdk"; else order="sdk kefo"; fi
    for who in $order; do
      [ "$only" = both ] || [ "$only" = "$who" ] || continue
      "run_$who" "${s%%:*}" "${s##*:}" "$r"
    done
  done
done
echo "load after: $(cut -d' ' -f1 /proc/loadavg)"
awk '
BEGIN {
  printf "%-12s %-18s %8s %7s %7s %12s %9s %9s %7s\n", "reader", "stream",
    "records", "user s", "sys s", "CPU us/rec", "RSS MB", "minflt", "wall s"
}
{
  printf "%-12s %-18s %8d %7.2f %7.2f %12.2f %9.1f %9d %7.1f\n", $1, $2, $3,
    $4, $5, ($4 + $5) * 1e6 / $3, $6 / 1024, $8, $9
}' "$results"
