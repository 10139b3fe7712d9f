#!/usr/bin/env bash
# kefo-put --aggregate on kinesis-local, read back by kefo-reader (issue
# 26): 2,000 JSON lines keyed by a field of theirs (--partition-key-field)
# go out as KPL aggregates; kefo-reader, from trim-horizon, prints each
# line exactly once with its own key. Two lines without the field are
# named by their number and skipped, the others still written, and the
# exit status says so (1). Then a stream deleted while kefo-put writes to
# it: kinesis-local answers PutRecords in CBOR (as kefo asks), with
# ResourceNotFoundException, which kefo-put names; the records it could
# not write are counted failed and the exit status is 1. Last,
# --stream-field: each line goes to the stream its field names
# (kefo_producer_put_to), the others to --stream; a stream that does not
# exist fails its own records, named, while the others are written, and
# kefo-reader finds each line in its own stream only.
bin=${KEFO_READER:-./tools/kefo-reader}
put=${KEFO_PUT:-./tools/kefo-put}
source "$(dirname "$0")/../support/harness/test_setup.sh"
set +e
kefo_start_kinesis_local
endpoint=http://127.0.0.1:$KEFO_KINESIS_PORT
export AWS_ACCESS_KEY_ID=AKIDKEFOTEST AWS_SECRET_ACCESS_KEY=kefo-test-secret
export AWS_REGION=us-east-1
pass=0
fail=0
ok() {
  pass=$((pass + 1))
  echo "ok   $*"
}
ko() {
  fail=$((fail + 1))
  echo "FAIL $*"
}

node "$here/harness/kl_call.js" "$KEFO_KINESIS_PORT" CreateStream \
  '{"StreamName":"agg","ShardCount":2}' >/dev/null
sleep 0.5
awk 'BEGIN { for (i = 1; i <= 2000; i++) {
  if (i == 700) print "{\"no_user\":700}";
  if (i == 1400) print "not json";
  printf "{\"id\":%d,\"user\":\"user-%d\"}\n", i, i % 37 } }' >"$tmp/in.jsonl"
"$put" --stream agg --endpoint "$endpoint" --aggregate \
  --partition-key-field user <"$tmp/in.jsonl" 2>"$tmp/put.err"
rc=$?
cat "$tmp/put.err"
if [ "$rc" = 1 ] && grep -q "line 700: no string or number field \"user\"" "$tmp/put.err" &&
   grep -q "line 1401: not a JSON object" "$tmp/put.err" &&
   grep -q "2 lines skipped" "$tmp/put.err" &&
   grep -q "2000 records, .* put in .*: 2000 written" "$tmp/put.err"; then
  ok "kefo-put --aggregate: exit 1, the two bad lines named, 2000 written"
else
  ko "kefo-put --aggregate: exit $rc"
fi
aggregates=$(sed -n 's/.*calls, \([0-9]*\) Kinesis records.*/\1/p' "$tmp/put.err")
if [ -n "$aggregates" ] && [ "$aggregates" -lt 100 ]; then
  ok "2000 records in $aggregates Kinesis records"
else
  ko "aggregation: '$aggregates' Kinesis records for 2000"
fi

timeout 60 "$bin" --stream agg --endpoint "$endpoint" --start trim-horizon \
  --limit 2000 >"$tmp/out" 2>"$tmp/read.err"
rc=$?
lines=$(wc -l <"$tmp/out")
unique=$(grep -o '"data":"{[^}]*}' "$tmp/out" | sort -u | wc -l)
keyed=$(grep -c '"partition_key":"user-[0-9]*".*"data":"{\\"id\\":[0-9]*,\\"user\\":\\"user-' "$tmp/out")
# Each line's key is its own user field.
mismatched=$(grep -o '"partition_key":"user-[0-9]*".*\\"user\\":\\"user-[0-9]*' "$tmp/out" |
  sed 's/"partition_key":"\(user-[0-9]*\)".*\\"user\\":\\"\(user-[0-9]*\)/\1 \2/' |
  awk '$1 != $2' | wc -l)
if [ "$rc" = 0 ] && [ "$lines" = 2000 ] && [ "$unique" = 2000 ] &&
   [ "$keyed" = 2000 ] && [ "$mismatched" = 0 ]; then
  ok "kefo-reader: $lines lines, $unique distinct, each with its own key"
else
  ko "kefo-reader: exit $rc, $lines lines, $unique distinct, $keyed keyed," \
    "$mismatched with another key"
  tail -n 3 "$tmp/read.err"
fi
node "$here/harness/kl_call.js" "$KEFO_KINESIS_PORT" CreateStream \
  '{"StreamName":"gone","ShardCount":2}' >/dev/null
sleep 0.5
"$put" --stream gone --endpoint "$endpoint" --rate 200 --duration 8 \
  --set sink.flush-buffer.timeout=100ms --set sink.record.ttl=3s \
  2>"$tmp/gone.err" &
putpid=$!
sleep 3
node "$here/harness/kl_call.js" "$KEFO_KINESIS_PORT" DeleteStream \
  '{"StreamName":"gone"}' >/dev/null
wait $putpid
rc=$?
written=$(sed -n 's/.* put in .*: \([0-9]*\) written.*/\1/p' "$tmp/gone.err")
failed=$(sed -n 's/.* written (.*), \([0-9]*\) failed.*/\1/p' "$tmp/gone.err")
if [ "$rc" = 1 ] && grep -q "PutRecords failed: HTTP 400 ResourceNotFoundException: Stream .*gone not found" "$tmp/gone.err" &&
   [ "${written:-0}" -gt 0 ] && [ "${failed:-0}" -gt 0 ]; then
  ok "stream deleted while writing: exit 1, ResourceNotFoundException named, $written written, $failed failed"
else
  ko "stream deleted while writing: exit $rc, written '$written', failed '$failed'"
  tail -n 5 "$tmp/gone.err"
fi
for st in route-a route-b; do
  node "$here/harness/kl_call.js" "$KEFO_KINESIS_PORT" CreateStream \
    "{\"StreamName\":\"$st\",\"ShardCount\":1}" >/dev/null
done
# A stream of another region (kinesis-local keeps streams per region):
# its ARN routes a line there, through a producer of that region.
KL_REGION=eu-west-1 node "$here/harness/kl_call.js" "$KEFO_KINESIS_PORT" \
  CreateStream '{"StreamName":"route-far","ShardCount":1}' >/dev/null
far=arn:aws:kinesis:eu-west-1:000000000000:stream/route-far
sleep 0.5
awk 'BEGIN { for (i = 1; i <= 300; i++) {
  if (i == 150) print "{\"id\":0,\"to\":5}";
  if (i == 200) print "{\"id\":0,\"to\":\"has space\"}";
  if (i == 250) print "{\"id\":1000,\"to\":\"arn:aws:kinesis:eu-west-1:000000000000:stream/route-far\"}";
  if (i % 3 == 0) printf "{\"id\":%d,\"to\":\"route-b\"}\n", i;
  else if (i % 3 == 1) printf "{\"id\":%d}\n", i;
  else printf "{\"id\":%d,\"to\":\"route-none\"}\n", i } }' >"$tmp/route.jsonl"
"$put" --stream route-a --endpoint "$endpoint" --stream-field to \
  <"$tmp/route.jsonl" 2>"$tmp/route.err"
rc=$?
# Line 201 names a stream the producer refuses (not a name): named and
# skipped, the lines after it put. Line 252 goes to eu-west-1.
if [ "$rc" = 1 ] && grep -q "line 150: no string in the stream field \"to\"" "$tmp/route.err" &&
   grep -q "line 201: stream \"has space\" refused" "$tmp/route.err" &&
   grep -q "2 lines skipped" "$tmp/route.err" &&
   grep -q "ResourceNotFoundException: Stream .*route-none not found" "$tmp/route.err" &&
   grep -q "301 records, .* put in .*: 201 written .*, 100 failed" "$tmp/route.err"; then
  ok "kefo-put --stream-field: exit 1, the two bad lines and the missing stream named, 201 written (1 to eu-west-1), 100 failed"
else
  ko "kefo-put --stream-field: exit $rc"
  tail -n 5 "$tmp/route.err"
fi
# id % 3: 1 for route-a (no field), 0 for route-b.
for st in route-a:1 route-b:0; do
  timeout 60 "$bin" --stream "${st%:*}" --endpoint "$endpoint" \
    --start trim-horizon --limit 100 >"$tmp/${st%:*}.out" 2>"$tmp/read.err"
  rc=$?
  ids=$(grep -o '\\"id\\":[0-9]*' "$tmp/${st%:*}.out" | tr -dc '0-9\n')
  n=$(echo "$ids" | sort -u | grep -c .)
  other=$(echo "$ids" | awk -v m="${st#*:}" '$1 % 3 != m' | grep -c .)
  if [ "$rc" = 0 ] && [ "$n" = 100 ] && [ "$other" = 0 ]; then
    ok "${st%:*}: 100 distinct lines, all its own (id % 3 = ${st#*:})"
  else
    ko "${st%:*}: exit $rc, $n distinct lines, $other of another stream"
    tail -n 3 "$tmp/read.err"
  fi
done
# The eu-west-1 line, read by the stream's ARN (its region the ARN's).
timeout 60 "$bin" --stream-arn "$far" --endpoint "$endpoint" \
  --start trim-horizon --limit 1 >"$tmp/far.out" 2>"$tmp/read.err"
rc=$?
if [ "$rc" = 0 ] && [ "$(grep -c . "$tmp/far.out")" = 1 ] &&
   grep -q '\\"id\\":1000' "$tmp/far.out"; then
  ok "route-far (eu-west-1): its one line"
else
  ko "route-far (eu-west-1): exit $rc, $(grep -c . "$tmp/far.out") lines"
  tail -n 3 "$tmp/read.err"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
