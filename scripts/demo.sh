#!/usr/bin/env bash
# The quickstart: installs what is missing, builds kefo, starts kinesis-local
# on a free loopback port, creates a 4-shard stream, writes to it with
# kefo-put while kefo-reader reads it over Enhanced Fan-Out (a job-managed
# consumer, deregistered when it stops) for 20 seconds, splits a shard
# midway, shows the records and the progress, reads the split's children
# with the polling reader, and stops the emulator. It leaves nothing
# running.
# Usage: bash scripts/demo.sh        (as root on a fresh Debian 12 machine)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash scripts/install-deps.sh
if [ ! -x configure ] || [ configure.ac -nt configure ] ||
   [ Makefile.am -nt Makefile.in ]; then
  ./autogen.sh >/tmp/kefo-autogen.out 2>&1 || { cat /tmp/kefo-autogen.out; exit 1; }
fi
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure >configure.out; } &&
  make -j"$(nproc)" >make.out 2>&1 || { cat make.out; exit 1; })
bin=$top/build/tools
echo "demo: built kefo $("$bin/kefo-reader" --version | cut -d' ' -f2)"

tmp=$(mktemp -d)
KEFO_EMULATOR_LOG_DIR=$tmp
source tests/support/harness/emulators.sh
bg=()
stop_all() {
  local p
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${bg[@]}"; do wait "$p" 2>/dev/null || true; done
  kefo_stop_emulators
  rm -rf "$tmp"
}
trap stop_all EXIT
kefo_start_kinesis_local
port=$KEFO_KINESIS_PORT
endpoint=http://127.0.0.1:$port
kl() { node tests/support/harness/kl_call.js "$port" "$@"; }
# kinesis-local checks no signature; these keys only have to be present.
export AWS_ACCESS_KEY_ID=AKIDKEFODEMO AWS_SECRET_ACCESS_KEY=kefo-demo-not-a-secret
export AWS_REGION=us-east-1
echo "demo: kinesis-local is listening on 127.0.0.1:$port"

echo "demo: creating the stream kefo-demo with 4 shards"
kl CreateStream '{"StreamName":"kefo-demo","ShardCount":4}' >/dev/null
for ((i = 0; i < 50; i++)); do
  kl DescribeStreamSummary '{"StreamName":"kefo-demo"}' | grep -q '"ACTIVE"' && break
  sleep 0.1
done
arn=$(kl DescribeStreamSummary '{"StreamName":"kefo-demo"}' |
  sed 's/.*"StreamARN":"\([^"]*\)".*/\1/')

echo "demo: kefo-put writes 100 records a second for 24 s, in the background"
"$bin/kefo-put" --stream kefo-demo --endpoint "$endpoint" --rate 100 \
  --duration 24 --size 48 2>"$tmp/put.log" &
bg+=($!)
put_pid=$!
(
  sleep 8
  echo "demo: (8 s in) splitting shardId-000000000000 in two" >&2
  kl SplitShard '{"StreamName":"kefo-demo","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"42535295865117307932921825928971026432"}' >/dev/null
) &
bg+=($!)

echo "demo: kefo-reader reads it over EFO for 20 s as the job-managed consumer"
echo "      kefo-demo-reader: records to records.jsonl, shard events and a"
echo "      progress report every 4 s below"
echo
status=0
"$bin/kefo-reader" --stream kefo-demo --endpoint "$endpoint" \
  --start trim-horizon --consumer-name kefo-demo-reader --duration 20 \
  --stats-interval 4 >"$tmp/records.jsonl" || status=$?
wait "$put_pid" || true
echo
echo "demo: kefo-reader exited with status $status; kefo-put said:"
sed 's/^/      /' "$tmp/put.log"
echo "demo: the first records it printed:"
head -n 3 "$tmp/records.jsonl"
echo "demo: records per shard:"
grep -o '"shard":"[^"]*"' "$tmp/records.jsonl" | sort | uniq -c |
  sed 's/"shard":"\([^"]*\)"/\1/; s/^/      /'
consumers=$(kl ListStreamConsumers "{\"StreamARN\":\"$arn\"}" |
  { grep -o '"ConsumerName"' || true; } | wc -l)
echo "demo: consumers registered now that it stopped: $consumers"
echo
echo "demo: kinesis-local never ends a split parent's SubscribeToShard (real"
echo "      Kinesis sends ChildShards), so over EFO the children above wait."
echo "      Its GetRecords does end it: the polling reader reads the parent"
echo "      to its end, then the children (6 s):"
echo
"$bin/kefo-reader" --stream kefo-demo --endpoint "$endpoint" \
  --reader polling --start trim-horizon --duration 6 --stats-interval 3 \
  --format none || echo "demo: kefo-reader exited with status $?"
echo
cat <<'MSG'
demo: on AWS, with credentials from the usual places (environment,
~/.aws, instance or container roles):
  kefo-reader --stream NAME --region REGION --start trim-horizon
demo: stopping kinesis-local
MSG
