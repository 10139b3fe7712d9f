#!/usr/bin/env bash
# kefo-reader as a hostile first run meets it (issue 23), against
# kinesis-local (started on a free port, always stopped): a 4-shard stream
# of 405 records read with a checkpoint file and stopped early by --limit,
# by a pipe whose reader goes away, by a full disk; a self-managed
# consumer of another stream; starts that fail after the consumer was
# registered; usage errors. Each check counts records or consumers, and
# each failed on 8b9c9e9.
bin=${KEFO_READER:-./tools/kefo-reader}
put=${KEFO_PUT:-./tools/kefo-put}
source "$(dirname "$0")/../support/harness/test_setup.sh"
set +e
kefo_start_kinesis_local
port=$KEFO_KINESIS_PORT
endpoint=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=AKIDKEFOTEST AWS_SECRET_ACCESS_KEY=kefo-test-secret
export AWS_REGION=us-east-1
pass=0
fail=0
total=405

ok() {
  pass=$((pass + 1))
  echo "ok   $*"
}
bad() {
  fail=$((fail + 1))
  echo "FAIL $*"
}
kl() { node "$here/harness/kl_call.js" "$port" "$@"; }
stream_arn() {
  kl DescribeStreamSummary "{\"StreamName\":\"$1\"}" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>
      console.log(JSON.parse(s).StreamDescriptionSummary.StreamARN))'
}
# The consumer names registered on stream $1, one a line.
consumers() {
  kl ListStreamConsumers "{\"StreamARN\":\"$(stream_arn "$1")\"}" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>
      JSON.parse(s).Consumers.forEach(c=>console.log(c.ConsumerName)))'
}
# Distinct records (shard, sequence number, sub-sequence) in files "$@".
distinct() {
  cat "$@" | grep -o '"shard":"[^"]*","sequence_number":"[^"]*","sub_sequence_number":[0-9]*' |
    sort -u | wc -l
}
lines() { cat "$@" | grep -c '"sequence_number"'; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
# read NAME CKPT CONSUMER ARGS...: kefo-reader on s4 from TRIM_HORIZON with
# checkpoint file CKPT, stdout to $tmp/NAME.out, stderr $tmp/NAME.err.
read_s4() {
  local name=$1 ckpt=$2 cname=$3
  shift 3
  timeout 60 "$bin" --stream s4 --endpoint "$endpoint" --start trim-horizon \
    --checkpoint-file "$ckpt" --consumer-name "$cname" --stats-interval 0 \
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
}

kl CreateStream '{"StreamName":"s4","ShardCount":4}' >/dev/null
kl CreateStream '{"StreamName":"s2","ShardCount":2}' >/dev/null
sleep 0.5
"$put" --stream s4 --endpoint "$endpoint" --count $total --size 60 --quiet ||
  bad "kefo-put could not write the stream"

# 1. --limit inside a batch, then a rerun: every record exactly once, for
# both readers.
for reader in efo polling; do
  read_s4 lim1 "$tmp/lim-$reader.ckpt" c-lim-$reader --reader $reader --limit 10
  rc1=$?
  read_s4 lim2 "$tmp/lim-$reader.ckpt" c-lim-$reader --reader $reader --duration 5
  rc2=$?
  n1=$(lines "$tmp/lim1.out")
  n2=$(lines "$tmp/lim2.out")
  d=$(distinct "$tmp/lim1.out" "$tmp/lim2.out")
  if [ $rc1 = 0 ] && [ $rc2 = 0 ] && [ "$n1" = 10 ] &&
     [ $((n1 + n2)) = $total ] && [ "$d" = $total ]; then
    ok "$reader: --limit 10 then a rerun: $n1 + $n2 = $((n1 + n2)) lines, $d distinct of $total"
  else
    bad "$reader: --limit 10 then a rerun: exits $rc1 $rc2, $n1 + $n2 lines, $d distinct of $total"
    tail -n 3 "$tmp/lim1.err" "$tmp/lim2.err"
  fi
done

# 2a. A full disk: exit 1 naming the error, nothing checkpointed, so the
# rerun prints every record once.
t0=$(date +%s.%N)
timeout 60 "$bin" --stream s4 --endpoint "$endpoint" --start trim-horizon \
  --checkpoint-file "$tmp/full.ckpt" --consumer-name c-full --stats-interval 0 \
  >/dev/full 2>"$tmp/full1.err"
rc1=$?
took=$(since "$t0")
read_s4 full2 "$tmp/full.ckpt" c-full --duration 5
rc2=$?
n2=$(lines "$tmp/full2.out")
d=$(distinct "$tmp/full2.out")
if [ $rc1 = 1 ] && grep -q "No space left on device" "$tmp/full1.err" &&
   [ $rc2 = 0 ] && [ "$n2" = $total ] && [ "$d" = $total ]; then
  ok "> /dev/full: exit 1 in $took s ($(grep -m1 'cannot write' "$tmp/full1.err")); rerun $n2 lines, $d distinct"
else
  bad "> /dev/full: exit $rc1 in $took s, rerun exit $rc2, $n2 lines, $d distinct of $total"
  tail -n 3 "$tmp/full1.err" "$tmp/full2.err"
fi

# 2b. A pipe whose reader is gone before the first record (as a reader
# killed by SIGPIPE would be): nothing written, nothing checkpointed.
t0=$(date +%s.%N)
timeout 30 "$bin" --stream s4 --endpoint "$endpoint" --start trim-horizon \
  --checkpoint-file "$tmp/gone.ckpt" --consumer-name c-gone \
  --stats-interval 0 2>"$tmp/gone1.err" | true
rc1=${PIPESTATUS[0]}
took=$(since "$t0")
read_s4 gone2 "$tmp/gone.ckpt" c-gone --duration 5
rc2=$?
n2=$(lines "$tmp/gone2.out")
d=$(distinct "$tmp/gone2.out")
if [ $rc1 = 1 ] && [ $rc2 = 0 ] && [ "$n2" = $total ] && [ "$d" = $total ]; then
  ok "| true: exit 1 in $took s; rerun $n2 lines, $d distinct of $total"
else
  bad "| true: exit $rc1 in $took s, rerun exit $rc2, $n2 lines, $d distinct of $total"
  tail -n 3 "$tmp/gone1.err" "$tmp/gone2.err"
fi

# 2c. | head -1: the reader ends by itself once head has gone (not killed
# by timeout), exit 1; the rerun goes on after the last batch written in
# full, and together the runs lose nothing that reached head's side of the
# pipe: every record the first run did not write out is printed again.
t0=$(date +%s.%N)
timeout 30 "$bin" --stream s4 --endpoint "$endpoint" --start trim-horizon \
  --checkpoint-file "$tmp/head.ckpt" --consumer-name c-head \
  --stats-interval 0 2>"$tmp/head1.err" | head -1 >"$tmp/head1.out"
rc1=${PIPESTATUS[0]}
took=$(since "$t0")
read_s4 head2 "$tmp/head.ckpt" c-head --duration 5
rc2=$?
n2=$(lines "$tmp/head2.out")
d=$(distinct "$tmp/head1.out" "$tmp/head2.out")
# What the first run wrote out is what its checkpoint covers: the rerun
# starts right after it on every shard, so first + rerun distinct records
# plus those written into the pipe after head read its line make the
# stream. The rerun must print at least the shards' records never written.
written=$(grep -o 'kefo-reader: [0-9]* records' "$tmp/head1.err" | grep -o '[0-9]*')
if [ "$rc1" = 1 ] && awk -v t="$took" 'BEGIN { exit !(t < 10) }' &&
   [ $rc2 = 0 ] && [ -n "$written" ] && [ $((written + n2)) = $total ] &&
   [ "$(distinct "$tmp/head2.out")" = "$n2" ]; then
  ok "| head -1: exit 1 in $took s, $written written out, rerun $n2: $((written + n2)) of $total, none twice in the rerun"
else
  bad "| head -1: exit $rc1 in $took s, written '$written', rerun exit $rc2 with $n2 lines"
  tail -n 3 "$tmp/head1.err" "$tmp/head2.err"
fi

# 3. A self-managed consumer of another stream: refused, naming both.
s4arn=$(stream_arn s4)
s2arn=$(stream_arn s2)
carn=$(kl RegisterStreamConsumer \
  "{\"StreamARN\":\"$s4arn\",\"ConsumerName\":\"c-of-s4\"}" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>
    console.log(JSON.parse(s).Consumer.ConsumerARN))')
sleep 0.5
for how in "--stream s2" "--stream-arn $s2arn"; do
  timeout 30 "$bin" $how --endpoint "$endpoint" --start trim-horizon \
    --lifecycle self-managed --consumer-arn "$carn" --stats-interval 0 \
    --duration 5 >"$tmp/wrong.out" 2>"$tmp/wrong.err"
  rc=$?
  if [ $rc = 1 ] && [ "$(lines "$tmp/wrong.out")" = 0 ] &&
     grep -q "belongs to stream $s4arn, not to $s2arn" "$tmp/wrong.err"; then
    ok "self-managed consumer of s4 read as s2 ($how): exit 1, 0 records: $(grep -m1 belongs "$tmp/wrong.err" | cut -c1-90)..."
  else
    bad "self-managed consumer of s4 read as s2 ($how): exit $rc, $(lines "$tmp/wrong.out") records"
    tail -n 3 "$tmp/wrong.err"
  fi
done

# 4. Starts that fail after the registration leave no consumer behind.
left() { consumers s4 | grep -cx "$1"; }
mkdir -p "$tmp/a-dir"
read_s4 dir "$tmp/a-dir" c-dir --duration 10
rc=$?
n=$(left c-dir)
if [ $rc = 1 ] && [ "$n" = 0 ]; then
  ok "checkpoint file is a directory: exit 1, consumers left: $n ($(grep -m1 -o 'a-dir.*' "$tmp/dir.err" | cut -c1-60))"
else
  bad "checkpoint file is a directory: exit $rc, consumers left: $n"
  tail -n 3 "$tmp/dir.err"
fi
"$put" --stream s2 --endpoint "$endpoint" --count 5 --quiet
timeout 30 "$bin" --stream s2 --endpoint "$endpoint" --start trim-horizon \
  --checkpoint-file "$tmp/s2.ckpt" --consumer-name c-other --limit 5 \
  --stats-interval 0 >/dev/null 2>&1
read_s4 other "$tmp/s2.ckpt" c-other --duration 10
rc=$?
n=$(left c-other)
if [ $rc = 1 ] && [ "$n" = 0 ] && grep -qi "stream" "$tmp/other.err"; then
  ok "checkpoint file of another stream: exit 1, consumers left: $n"
else
  bad "checkpoint file of another stream: exit $rc, consumers left: $n"
  tail -n 3 "$tmp/other.err"
fi
"$bin" --stream s4 --endpoint "$endpoint" --start latest \
  --checkpoint-file "$tmp/locked.ckpt" --consumer-name c-holder \
  --stats-interval 0 --format none 2>"$tmp/holder.err" &
holder=$!
sleep 2
read_s4 locked "$tmp/locked.ckpt" c-locked --duration 10
rc=$?
n=$(left c-locked)
kill -INT $holder
wait $holder
rch=$?
if [ $rc = 1 ] && [ "$n" = 0 ] && [ $rch = 0 ] && [ "$(left c-holder)" = 0 ]; then
  ok "checkpoint file locked by another reader: exit 1, consumers left: $n (the holder's deregistered at its stop)"
else
  bad "checkpoint file locked by another reader: exit $rc, consumers left: $n, holder exit $rch"
  tail -n 3 "$tmp/locked.err"
fi

# Usage errors: exit 2 and why.
expect2() {
  local name=$1 pattern=$2 rc
  shift 2
  timeout 20 "$bin" "$@" >/dev/null 2>"$tmp/usage.err"
  rc=$?
  if [ $rc = 2 ] && grep -Eq -- "$pattern" "$tmp/usage.err"; then
    ok "$name: exit 2: $(head -n1 "$tmp/usage.err" | cut -c1-110)"
  else
    bad "$name: exit $rc: $(head -n1 "$tmp/usage.err")"
  fi
}
expect2 "--limit -5" "--limit must be a positive number" \
  --stream s4 --endpoint "$endpoint" --limit -5
expect2 "--stream and --stream-arn" "not both.*--stream" \
  --stream s2 --stream-arn "$s4arn" --endpoint "$endpoint"
expect2 "a stream ARN without stream/" "not a stream's ARN.*--stream-arn" \
  --stream-arn arn:aws:kinesis:us-east-1:000000000000:s4 --endpoint "$endpoint"
expect2 "--consumer-arn without --lifecycle self-managed" \
  "JOB_MANAGED.*--consumer-arn" \
  --stream s4 --consumer-arn "$carn" --endpoint "$endpoint"
expect2 "a key named with its flag" "source.stream.arn.*--stream" \
  --endpoint "$endpoint"
printf 'source.init.position = LATEST # from the start\n' >"$tmp/c.conf"
expect2 "a comment after a value" "source.init.position" \
  --stream s4 --config "$tmp/c.conf"
[ "$(left c-of-s4)" = 1 ] && ok "the self-managed consumer stays registered" ||
  bad "the self-managed consumer was removed"

echo "reader_first_run_test: $pass passed, $fail failed"
[ "$fail" = 0 ]
