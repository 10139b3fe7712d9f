#!/usr/bin/env bash
# Watermark alignment on real data (issue 27), against kinesis-local: a
# 2-shard stream, shard A (shardId-000000000000) holding a backlog written
# over the previous 60 s, shard B (shardId-000000000001) only records
# written in the last seconds. kefo-reader reads from TRIM_HORIZON with
# --max-drift-ms 5000 (polling, 10 records a call, so that A catches up
# batch by batch; kinesis-local's EFO events carry up to 10,000 records,
# the whole backlog at once): B is paused once it runs ahead and resumed
# when A's watermark is within 5 s of B's, both printed with the
# watermarks; no record, a shard's first batch included, is delivered
# more than the drift plus one batch's span ahead of the slowest
# watermark.
# Without the flag, B's records come at once.
bin=${KEFO_READER:-./tools/kefo-reader}
source "$(dirname "$0")/../support/harness/test_setup.sh"
set +e
kefo_start_kinesis_local
endpoint=http://127.0.0.1:$KEFO_KINESIS_PORT
export AWS_ACCESS_KEY_ID=AKIDKEFOTEST AWS_SECRET_ACCESS_KEY=kefo-test-secret
export AWS_REGION=us-east-1
span=${KEFO_ALIGN_SPAN_S:-60}
na=${KEFO_ALIGN_RECORDS:-300}
nb=20
drift=5000
max=10
pass=0
fail=0
check() { # name, condition status, detail
  if [ "$2" = 0 ]; then
    pass=$((pass + 1))
    echo "ok   $1${3:+: $3}"
  else
    fail=$((fail + 1))
    echo "FAIL $1${3:+: $3}"
  fi
}

# One stream per run, their backlogs written side by side.
for s in aligned unaligned; do
  node "$here/harness/kl_call.js" "$KEFO_KINESIS_PORT" CreateStream \
    "{\"StreamName\":\"$s\",\"ShardCount\":2}" >/dev/null
done
echo "writing $na records to shard A of each stream over $span s"
node "$here/harness/align_write.js" "$KEFO_KINESIS_PORT" aligned 0 $na "$span" a &
w1=$!
node "$here/harness/align_write.js" "$KEFO_KINESIS_PORT" unaligned 0 $na "$span" a ||
  exit 1
wait $w1 || exit 1
printf 'source.shard.get-records.max-record-count=%s\n' $max >"$tmp/align.conf"

# run NAME [flags]: kefo-reader while B's records are written, in the
# reader's first seconds.
run() {
  local name=$1
  shift
  timeout 120 "$bin" --stream "$name" --endpoint "$endpoint" \
    --start trim-horizon --reader polling --config "$tmp/align.conf" \
    --limit $((na + nb)) --format jsonl --log-level info \
    --stats-interval 1 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local pid=$!
  sleep 1
  node "$here/harness/align_write.js" "$KEFO_KINESIS_PORT" "$name" \
    340282366920938463463374607431768211455 $nb 2 b
  wait $pid
  local rc=$?
  cp "$tmp/$name.out" "$tmp/$name.err" "${KEFO_ALIGN_KEEP:-$tmp}/" 2>/dev/null
  echo "kefo-reader $name: exit $rc"
  node "$here/harness/align_check.js" "$tmp/$name.out" "$tmp/$name.err" \
    $drift $max >"$tmp/$name.json"
  cat "$tmp/$name.json"
}
# The figure of |key| in run |name|'s measurement.
fig() { node -e "const r=require('$tmp/$1.json'); console.log(JSON.stringify(r['$2']))"; }

t0=$(date +%s)
run aligned --max-drift-ms $drift
b=shardId-000000000001
check "aligned: every record delivered" \
  "$([ "$(fig aligned records)" = $((na + nb)) ]; echo $?)" "$(fig aligned per_shard)"
check "aligned: A's backlog read first" \
  "$([ "$(fig aligned first_shard)" = '"shardId-000000000000"' ]; echo $?)"
check "aligned: B paused, watermarks printed" \
  "$(grep -q " alignment.paused $b watermark=[0-9]* slowest=[0-9]*" "$tmp/aligned.err"; echo $?)" \
  "$(grep -m1 " alignment.paused $b" "$tmp/aligned.err")"
# Resumed once A is within the drift of B: the resume line's lead.
resume=$(grep -m1 " alignment.resumed $b" "$tmp/aligned.err")
rlead=$(sed -n 's/.* lead-ms=\(-\{0,1\}[0-9]*\) .*/\1/p' <<<"$resume")
check "aligned: B resumed within the drift" \
  "$([ -n "$rlead" ] && [ "$rlead" -le $drift ]; echo $?)" "$resume"
lead=$(fig aligned largest_lead_ms)
bound=$(fig aligned bound_ms)
check "aligned: largest lead within drift + one batch" \
  "$([ "$lead" != null ] && [ "$lead" -le "$bound" ]; echo $?)" \
  "largest lead $lead ms, bound $bound ms (drift $drift + batch span $(fig aligned batch_span_ms)); first batches' lead $(fig aligned first_batch_largest_lead_ms) ms"
check "aligned: progress shows paused shards and the spread" \
  "$(grep -q "^kefo-reader: alignment: 1 paused: $b, watermark spread [0-9]* ms" "$tmp/aligned.err"; echo $?)" \
  "$(grep -m1 "^kefo-reader: alignment: 1 paused" "$tmp/aligned.err")"

run unaligned
check "unaligned: no alignment pause" \
  "$(! grep -q " alignment.paused " "$tmp/unaligned.err"; echo $?)"
ulead=$(fig unaligned largest_lead_ms)
check "unaligned: B's records come at once (lead above the bound)" \
  "$([ "$ulead" != null ] && [ "$ulead" -gt "$bound" ]; echo $?)" \
  "largest lead $ulead ms against the aligned run's bound $bound ms"
echo "alignment test: $pass passed, $fail failed in $(($(date +%s) - t0)) s of reading"
[ $fail = 0 ]
