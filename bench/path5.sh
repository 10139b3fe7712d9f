#!/usr/bin/env bash
# Path 5 (issue 28): a persisted stream read from kinesis-local, an
# independently written server, rather than from the project's own mock.
# Two 4-shard streams, SMALL records of 100 B and LARGE records of 1 KiB,
# each kept by a kinesis-local of its own in its own persistence
# (SHOULD_PERSIST_DATA, PERSIST_PATH $KEFO_BENCH_CACHE/<stream>, default
# /var/tmp/kefo-path5, kept between runs). They are written once:
# PutRecords on kinesis-local slows as a shard grows, to about 60
# records/s at 14,000 a shard (30 on a loaded machine), so 200,000
# records would take most of an hour and 50,000 is the default; the two
# servers write at once, on two cores. Each is counted once by a full
# read. Then each round reads both
# from TRIM_HORIZON with `kefo-reader --format none` and with the AWS SDK
# for JavaScript v3 (bench/peer/sdk_subscribe_read.mjs), alternately, each
# under bench/timed (/usr/bin/time's counts, with CPU seconds to the
# microsecond rather than to 10 ms). A reader that does not read exactly the records
# written fails the run. Prints one table: user and system seconds, CPU
# per record, peak RSS and page faults of the reader's process alone (the
# servers run on the same cores and are nobody's).
# Uses the -O2 build in build-bench/.
# Usage: bash bench/path5.sh [ROUNDS] [SMALL] [LARGE]   (2 50000 50000)
# KEFO_BENCH_SET="KEY=VALUE ..." passes configuration keys to kefo-reader.
# PATH5_ONLY=kefo|sdk reads with one reader only; PATH5_WRAP="perf record
# -g -o F --" (or "strace -c -f -o F") runs kefo-reader under a profiler.
# PATH5_WRITE_ONLY=1 writes what is missing and stops.
# PATH5_KEFO_READERS="before=DIR/tools/kefo-reader after=..." measures
# several kefo-readers in turn in each round (an A/B against an older
# build); the first one also counts the streams it writes.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rounds=${1:-2}
small=${2:-50000}
large=${3:-50000}
cache=${KEFO_BENCH_CACHE:-/var/tmp/kefo-path5}
only=${PATH5_ONLY:-both}

source "$top/bench/bench_env.sh"
(cd "$top/build-bench" && make -j"$(nproc)" tools/kefo-reader tools/kefo-put \
  bench/timed >make.out 2>&1 || { cat make.out; exit 1; })
log=$tmp # test_setup.sh's, removed at exit
# Signatures are not checked; the reader and writer only need some.
export AWS_ACCESS_KEY_ID=AKIDKEFOTEST AWS_SECRET_ACCESS_KEY=kefo-test-secret-key
export AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1 /proc/loadavg)"

# A kinesis-local for stream |name|: sets port_<name>. kinesis-local
# keeps every stream in one JSON file (about 360 B a 100 B record, 1.6 KB
# a 1 KiB one), rewritten whole every PERSIST_INTERVAL while it runs,
# changed or not, truncated first (a server stopped then loses it all),
# and loaded at start. So a stream being written lives in $cache/|name|/
# (rewritten every 30 s: every 5 s costs the writing server seconds of
# CPU at tens of MB), and once written and counted its file is kept as
# $cache/|name|.json, which a reading server loads from a copy of its
# own, rewriting it only once a day.
serve() { # name
  local t data=$cache/$1 every=30s
  t=$(date +%s.%N)
  if [ -f "$cache/$1.json" ] && [ -f "$cache/$1.done" ]; then
    data=$log/$1
    every=24h
    mkdir -p "$data"
    cp "$cache/$1.json" "$data/kinesis-data.json"
  fi
  mkdir -p "$data"
  # As kefo_start_kinesis_local, but loading 50,000 records of 1 KiB
  # takes it over a minute (and 1.6 GB) before it listens.
  local p dir=$top/node_modules/kinesis-local
  p=$(kefo_free_port)
  KINESIS_MOCK_CERT_PATH=$dir/server.json KINESIS_MOCK_PLAIN_PORT=$p \
  KINESIS_MOCK_TLS_PORT=$(kefo_free_port) CREATE_STREAM_DURATION=0ms \
  DELETE_STREAM_DURATION=0ms REGISTER_STREAM_CONSUMER_DURATION=0ms \
  DEREGISTER_STREAM_CONSUMER_DURATION=0ms SHARD_LIMIT=1000 LOG_LEVEL=WARN \
  SHOULD_PERSIST_DATA=true PERSIST_PATH=$data PERSIST_INTERVAL=$every \
    node "$dir/main.js" >"$log/kl.$1.log" 2>&1 &
  KEFO_EMULATOR_PIDS+=($!)
  kefo_wait_port "$p" 300 || { cat "$log/kl.$1.log" >&2; return 1; }
  printf -v "port_${1//-/_}" %s "$p"
  echo "kinesis-local 0.6.2 for $1 on port $p, data $(du -sh "$data" | cut -f1), up in $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
}
url_of() { local p="port_${1//-/_}"; echo "http://127.0.0.1:${!p}"; }

# The kefo-reader binaries to measure, NAME=PATH each: this tree's by
# default. Run from the binary itself, not libtool's wrapper script in
# tools/, whose shell, sed and fork would be timed with it (about 20 ms),
# with the library's folder in LD_LIBRARY_PATH (NAME=LIBDIR:BINARY here).
readers=()
for nr in ${PATH5_KEFO_READERS:-kefo-reader=$top/build-bench/tools/kefo-reader}; do
  b=${nr#*=} l=
  if [ "$(head -c 2 "$b")" = "#!" ]; then
    l=$(cd "$(dirname "$b")/../.libs" && pwd)
    b=$(dirname "$b")/.libs/$(basename "$b")
  fi
  readers+=("${nr%%=*}=$l:$b")
done
reader=${readers[0]#*=}

# kefo-reader from TRIM_HORIZON until LIMIT records (or SECS seconds);
# prints the number it read (its summary line's), or fails.
kefo_read() { # stream consumer limit secs [wrapper...]
  local stream=$1 consumer=$2 limit=$3 secs=$4 sets=() kv
  shift 4
  if [ -n "${KEFO_BENCH_SET:-}" ]; then
    for kv in $KEFO_BENCH_SET; do echo "$kv"; done >"$log/kefo.conf"
    sets=(--config "$log/kefo.conf")
  fi
  # Always called in $(...): the export stays in that subshell.
  [ -z "${reader%%:*}" ] || export LD_LIBRARY_PATH=${reader%%:*}
  "$@" "${reader#*:}" \
    --endpoint "$(url_of "$stream")" \
    --stream "$stream" --consumer-name "$consumer" --start trim-horizon \
    --format none --stats-interval 0 --log-level error \
    ${limit:+--limit "$limit"} --duration "$secs" "${sets[@]}" \
    2>"$log/kefo.$stream.err" || { cat "$log/kefo.$stream.err" >&2; return 1; }
  sed -n 's/^kefo-reader: \([0-9]*\) records,.*/\1/p' "$log/kefo.$stream.err" |
    tail -1
}

# Writes a stream once: COUNT records of BYTES bytes with random keys by
# kefo-put (PutRecords of 500, only failed entries sent again), then read
# whole and counted before it is kept. A write cut short earlier (the
# stream is there, with fewer records) is counted and topped up; one with
# more is thrown away.
write_stream() { # name count bytes
  local name=$1 count=$2 bytes=$3 n=0 t0 url port
  url=$(url_of "$name")
  port=${url##*:}
  # An idle minute after the last event is enough to count a stream at
  # one event a second per shard.
  if node "$here/harness/kl_call.js" "$port" DescribeStreamSummary \
    "{\"StreamName\":\"$name\"}" >/dev/null 2>&1; then
    n=$(kefo_read "$name" "kefo-count-$name" "" $((count / 2000 + 60)))
    echo "$name: $n records there from an earlier write"
    if [ "$n" -gt "$count" ]; then
      node "$here/harness/kl_call.js" "$port" DeleteStream \
        "{\"StreamName\":\"$name\"}" >/dev/null
      sleep 1
      n=0
    fi
  fi
  if [ "$n" = 0 ]; then
    node "$here/harness/kl_call.js" "$port" CreateStream \
      "{\"StreamName\":\"$name\",\"ShardCount\":4}" >/dev/null
  fi
  echo "writing $name: $((count - n)) records of $bytes B over 4 shards (once)"
  t0=$(date +%s)
  # Calls get slower as the shards fill up (8 s and more for 500 records
  # near 15,000 a shard), the server does them one at a time (a second
  # call in flight only waits behind the first), and it stops answering
  # for a while as it rewrites its file: give kefo-put time (and the
  # 10,000 records it holds when it has generated the last one, which
  # sink.stop.timeout gives 30 s by default).
  if [ "$n" -lt "$count" ]; then
    "${PATH5_KEFO_PUT:-$top/build-bench/tools/kefo-put}" --endpoint "$url" \
      --stream "$name" --count $((count - n)) --size "$bytes" \
      --set sink.rate-limit=1000 --set sink.record.ttl=2h \
      --set sink.requests.max-inflight=1 --set aws.http.request-timeout=10m \
      --set sink.stop.timeout=1h --progress-timeout 600
  fi
  echo "$name written in $(($(date +%s) - t0)) s"
  sleep 65 # PERSIST_INTERVAL, twice over
  n=$(kefo_read "$name" "kefo-count-$name" "" $((count / 2000 + 60)))
  if [ "$n" != "$count" ]; then
    echo "$name: $n records read back, not $count" >&2
    return 1
  fi
  keep "$name"
  echo "$count" >"$cache/$name.done"
}

# Keeps a whole copy of |name|'s persisted file as $cache/|name|.json:
# copied, then checked to be one JSON document (the server may have been
# rewriting it), else tried again.
keep() { # name
  local i
  for ((i = 0; i < 120; i++)); do
    if [ -s "$cache/$1/kinesis-data.json" ] &&
      cp "$cache/$1/kinesis-data.json" "$cache/$1.json.tmp" &&
      node -e 'JSON.parse(require("fs").readFileSync(process.argv[1]))' \
        "$cache/$1.json.tmp" 2>/dev/null; then
      mv "$cache/$1.json.tmp" "$cache/$1.json"
      return 0
    fi
    sleep 2
  done
  echo "$1: no whole copy of $cache/$1/kinesis-data.json" >&2
  return 1
}
s_name=path5-100b-$small
l_name=path5-1k-$large
writers=()
for s in "$s_name:$small:100" "$l_name:$large:1024"; do
  IFS=: read -r name count bytes <<<"$s"
  serve "$name"
  if [ "$(cat "$cache/$name.done" 2>/dev/null)" != "$count" ]; then
    write_stream "$name" "$count" "$bytes" &
    writers+=($!)
  fi
done
for w in "${writers[@]}"; do wait "$w"; done
[ -z "${PATH5_WRITE_ONLY:-}" ] || exit 0

timed=$top/build-bench/bench/timed
results=$log/rows
: >"$results"
run_kefo() { # stream count round
  local t=$log/time n nr i list=()
  # Alternated: in the given order in odd rounds, reversed in even ones.
  for i in "${!readers[@]}"; do
    if (($3 % 2)); then list+=("${readers[i]}"); else list=("${readers[i]}" "${list[@]}"); fi
  done
  for nr in "${list[@]}"; do
    reader=${nr#*=}
    n=$(kefo_read "$1" "kefo-p5-$1" "$2" 600 $timed -o "$t" ${PATH5_WRAP:-})
    [ "$n" = "$2" ] || { echo "${nr%%=*} read $n of $2 records of $1" >&2; exit 1; }
    echo "${nr%%=*} $1 $2 $(tail -1 "$t")" >>"$results"
  done
}
run_sdk() { # stream count round
  local t=$log/time out n
  out=$($timed -o "$t" node --no-warnings \
    "$top/bench/peer/sdk_subscribe_read.mjs" --endpoint "$(url_of "$1")" \
    --stream "$1" --expect "$2" --consumer "sdk-p5-$1")
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
  printf "%-12s %-18s %8s %7s %7s %11s %8s %8s %7s\n", "reader", "stream",
    "records", "user s", "sys s", "CPU us/rec", "RSS MB", "minflt", "wall s"
}
{
  printf "%-12s %-18s %8d %7.3f %7.3f %11.3f %8.1f %8d %7.1f\n", $1, $2, $3,
    $4, $5, ($4 + $5) * 1e6 / $3, $6 / 1024, $8, $9
}' "$results"
