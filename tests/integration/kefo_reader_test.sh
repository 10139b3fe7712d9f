#!/usr/bin/env bash
# kefo-reader and kefo-put as a user meets them, against kinesis-local
# (started on a free port, always stopped): bad flags, bad values, an
# unknown configuration key, no region, an unknown stream, an endpoint
# nobody listens on: each a clear message and its documented exit status,
# never a hang. Then kefo-put writes (stdin lines and generated records)
# and kefo-reader reads them back: JSON lines with text or base64 data,
# raw data, the progress lines, the summary, exit 0 on --limit.
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
# expect NAME STATUS PATTERN SECONDS -- command...: the command exits with
# STATUS within SECONDS and its stderr matches PATTERN.
expect() {
  local name=$1 want=$2 pattern=$3 limit=$4 rc t0 t1
  shift 5
  t0=$(date +%s.%N)
  timeout "$limit" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  t1=$(date +%s.%N)
  if [ "$rc" = "$want" ] &&
     { [ -z "$pattern" ] || grep -Eq -- "$pattern" "$tmp/err"; }; then
    pass=$((pass + 1))
    printf 'ok   %-34s exit %s in %s s: %s\n' "$name" "$rc" \
      "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
      "$([ -z "$pattern" ] || grep -E -m1 -- "$pattern" "$tmp/err")"
  else
    fail=$((fail + 1))
    echo "FAIL $name: exit $rc (want $want), stderr:"
    sed 's/^/     /' "$tmp/err" | tail -n 5
  fi
}

expect "unknown flag" 2 "unknown option --bogus" 5 -- "$bin" --bogus
expect "flag without its value" 2 "--stream needs a value" 5 -- "$bin" --stream
expect "bad --start" 2 "--start must be latest, trim-horizon" 5 -- \
  "$bin" --stream s --start yesterday
expect "bad --format" 2 "--format must be jsonl, raw or none" 5 -- \
  "$bin" --stream s --format xml
printf 'source.init.positon=LATEST\n' >"$tmp/typo.conf"
expect "unknown config key" 2 "source.init.positon.*source.init.position" 5 \
  -- "$bin" --stream s --config "$tmp/typo.conf"
printf 'source.checkpoint.interval=soon\n' >"$tmp/bad.conf"
expect "bad config value" 2 "source.checkpoint.interval" 5 -- \
  "$bin" --stream s --config "$tmp/bad.conf"
expect "missing config file" 2 "nowhere.conf" 5 -- \
  "$bin" --stream s --config "$tmp/nowhere.conf"
# Flags override the file, wherever --config stands.
printf 'source.stream.name=from-the-file\n' >"$tmp/stream.conf"
expect "flags override --config" 1 "no-such-flag-stream" 20 -- \
  "$bin" --stream no-such-flag-stream --config "$tmp/stream.conf" \
  --endpoint "$endpoint"
expect "no stream" 2 "source.stream.name|--stream" 5 -- "$bin"
# What is wrong comes from the library's own words (config.invalid).
expect "no region" 2 "config.invalid - no region: set aws.region" 5 -- \
  env -u AWS_REGION -u AWS_DEFAULT_REGION AWS_CONFIG_FILE=/nonexistent \
  "$bin" --stream s --endpoint "$endpoint"
expect "kefo-put no region" 2 \
  "Invalid configuration: no region: set aws.region" 5 -- \
  env -u AWS_REGION -u AWS_DEFAULT_REGION AWS_CONFIG_FILE=/nonexistent \
  "$put" --stream s --endpoint "$endpoint" --count 1
# A stream's ARN names the region that serves it: another one given is
# refused at once, before any call.
arn_eu=arn:aws:kinesis:eu-west-1:000000000000:stream/s
expect "ARN of another region" 2 \
  "source.stream.arn: the ARN is in region eu-west-1, but aws.region is us-east-1" \
  5 -- "$bin" --stream-arn "$arn_eu" --region us-east-1 --endpoint "$endpoint"
expect "kefo-put ARN of another region" 2 \
  "sink.stream.arn: the ARN is in region eu-west-1, but aws.region is us-east-1" \
  5 -- "$put" --stream-arn "$arn_eu" --region us-east-1 --endpoint "$endpoint" \
  --count 1
expect "unknown stream" 1 "ResourceNotFoundException.*no-such-stream" 20 -- \
  "$bin" --stream no-such-stream --endpoint "$endpoint"
# Nobody listens on this port: refused at once, retried within
# kefo-reader's retry budget (10 attempts, with the HTTP client's
# reconnect backoff), then a clear error; never a hang.
closed=$(kefo_free_port)
expect "unreachable endpoint" 1 "127.0.0.1:$closed.*(refused|connect)" 60 \
  -- "$bin" --stream s --endpoint "http://127.0.0.1:$closed"
expect "kefo-put unknown flag" 2 "unknown option --bogus" 5 -- "$put" --bogus
expect "kefo-put unknown stream" 1 "ResourceNotFoundException" 20 -- \
  "$put" --stream no-such-stream --endpoint "$endpoint" --count 1
expect "help" 0 "" 5 -- "$bin" --help
grep -q -- "--lease-table" "$tmp/out" && grep -q "Exit status" "$tmp/out"
[ $? = 0 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL help text"; }

# kefo-put then kefo-reader: what one writes the other prints.
node "$here/harness/kl_call.js" "$KEFO_KINESIS_PORT" CreateStream \
  '{"StreamName":"tools","ShardCount":2}' >/dev/null
sleep 0.5
printf 'hello\nwörld\n' | "$put" --stream tools --endpoint "$endpoint" \
  --partition-key k1 2>"$tmp/put1.err"
rc1=$?
"$put" --stream tools --endpoint "$endpoint" --count 1000 --size 200 \
  2>"$tmp/put2.err"
rc2=$?
if [ $rc1 = 0 ] && [ $rc2 = 0 ] && grep -q "^kefo-put: 2 records" "$tmp/put1.err" &&
   grep -q "^kefo-put: 1000 records, 200000 bytes" "$tmp/put2.err"; then
  pass=$((pass + 1))
  echo "ok   kefo-put: $(cat "$tmp/put2.err")"
else
  fail=$((fail + 1))
  echo "FAIL kefo-put: $rc1 $rc2 $(cat "$tmp/put1.err" "$tmp/put2.err")"
fi
# --limit ends the run once all is read; --duration bounds it should it
# never be (a fixed 2 s read nothing once, on a machine loaded enough
# that kinesis-local answered late). The read can take 0.4 s: progress
# every 0.1 s, for the progress lines checked below.
expect "read back" 0 "1002 records, 200011 bytes" 30 -- \
  "$bin" --stream tools --endpoint "$endpoint" --start trim-horizon \
  --reader polling --limit 1002 --duration 25 --stats-interval 0.1
lines=$(wc -l <"$tmp/out")
if [ "$lines" = 1002 ] && grep -q '"partition_key":"k1","data":"hello"' "$tmp/out" &&
   grep -q '"data":"wörld"' "$tmp/out" &&
   [ "$(grep -c '"data":"kefo-put [0-9]* x*"' "$tmp/out")" = 1000 ] &&
   grep -q '"arrival":"20[0-9-]*T[0-9:.]*Z"' "$tmp/out" &&
   grep -Eq '^kefo-reader: [0-9]+ s: 2 shards \(2 reading' "$tmp/err"; then
  pass=$((pass + 1))
  echo "ok   JSON lines and progress lines: $(grep -m1 ' s: 2 shards' "$tmp/err")"
else
  fail=$((fail + 1))
  echo "FAIL JSON lines ($lines) or progress:"
  head -n 3 "$tmp/out"
  tail -n 5 "$tmp/err"
fi
printf '\x00\x01\xff\n' | "$put" --stream tools --endpoint "$endpoint" \
  --partition-key k1 --quiet
expect "binary data as base64" 0 "" 30 -- "$bin" --stream tools \
  --endpoint "$endpoint" --start trim-horizon --reader polling --limit 1003 \
  --stats-interval 0
grep -q '"data_base64":"AAH/"' "$tmp/out" &&
  pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL base64"; }
expect "raw format" 0 "" 30 -- "$bin" --stream tools --endpoint "$endpoint" \
  --start trim-horizon --reader polling --limit 1003 --format raw \
  --stats-interval 0
[ "$(wc -l <"$tmp/out")" = 1003 ] && grep -qx 'hello' "$tmp/out" &&
  pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL raw"; }

# With aws.region unset, a stream named by its ARN is called in the
# ARN's region, whatever AWS_REGION says: kinesis-local keeps streams per
# region, so by name under eu-west-1 the stream is not found, and by ARN
# it is written and read.
node "$here/harness/kl_call.js" "$KEFO_KINESIS_PORT" CreateStream \
  '{"StreamName":"tools-arn","ShardCount":1}' >/dev/null
sleep 0.5
arn=$(node "$here/harness/kl_call.js" "$KEFO_KINESIS_PORT" \
  DescribeStreamSummary '{"StreamName":"tools-arn"}' |
  grep -o 'arn:aws:kinesis:us-east-1:[^"]*')
expect "by name in another region" 1 \
  "ResourceNotFoundException.*eu-west-1.*tools-arn" 20 -- \
  env AWS_REGION=eu-west-1 "$put" --stream tools-arn --endpoint "$endpoint" \
  --count 1
expect "kefo-put by ARN: the ARN's region" 0 "^kefo-put: 5 records.*5 written" \
  20 -- env AWS_REGION=eu-west-1 "$put" --stream-arn "$arn" \
  --endpoint "$endpoint" --count 5
expect "kefo-reader by ARN: the ARN's region" 0 "5 records" 30 -- \
  env AWS_REGION=eu-west-1 "$bin" --stream-arn "$arn" --endpoint "$endpoint" \
  --start trim-horizon --reader polling --limit 5 --duration 25 \
  --stats-interval 0
[ "$(grep -c '"data":"kefo-put [0-9]* x*"' "$tmp/out")" = 5 ] &&
  pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL read by ARN"; }

# On a terminal (script(1) gives it one): a table, redrawn in place
# (cursor up over the last one, erase, draw again).
script -qec "$bin --stream tools --endpoint $endpoint --start trim-horizon \
  --reader polling --duration 2.5 --stats-interval 0.5 --format none" \
  /dev/null >"$tmp/tty.out" 2>&1
if grep -q "shard  *state  *records/s  *MB/s  *behind (ms)  *records" \
     "$tmp/tty.out" &&
   grep -q "^shardId-000000000001  *reading" "$tmp/tty.out" &&
   grep -q "$(printf '\033')\[4A$(printf '\033')\[J" "$tmp/tty.out"; then
  pass=$((pass + 1))
  echo "ok   progress table on a terminal, redrawn in place"
else
  fail=$((fail + 1))
  echo "FAIL progress table on a terminal:"
  cat -v "$tmp/tty.out" | tail -n 12
fi

# Stopping while the endpoint is gone: a graceful stop is bounded by
# source.efo.deregister.timeout (here 2 s), a second signal stops at once.
printf 'source.efo.deregister.timeout=2s\n' >"$tmp/dereg.conf"
"$bin" --stream tools --endpoint "$endpoint" --start trim-horizon \
  --format none --stats-interval 0 --config "$tmp/dereg.conf" \
  --log-level info 2>"$tmp/stop1.err" &
r1=$!
"$bin" --stream tools --endpoint "$endpoint" --start trim-horizon \
  --format none --stats-interval 0 --consumer-name second \
  --log-level info 2>"$tmp/stop2.err" &
r2=$!
# Both subscribed (so both have a consumer to deregister), rather than
# a fixed 3 s: on a loaded machine one had not registered yet.
for ((i = 0; i < 300; i++)); do
  grep -q ' subscription\.opened ' "$tmp/stop1.err" &&
    grep -q ' subscription\.opened ' "$tmp/stop2.err" && break
  sleep 0.1
done
kefo_stop_emulators
t0=$(date +%s.%N)
kill -TERM $r1 $r2
sleep 1
kill -TERM $r2
wait $r2
t2=$(date +%s.%N)
wait $r1
t1=$(date +%s.%N)
took1=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
took2=$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.1f", b - a }')
if awk -v a="$took1" -v b="$took2" 'BEGIN { exit !(a < 6 && b < 3) }' &&
   grep -q "within 2000 ms (source.efo.deregister.timeout)" "$tmp/stop1.err"; then
  pass=$((pass + 1))
  echo "ok   stop with the endpoint gone: graceful in $took1 s" \
    "(deregister timeout 2 s), a second signal in $took2 s"
else
  fail=$((fail + 1))
  echo "FAIL stop with the endpoint gone: $took1 s and $took2 s"
  tail -n 3 "$tmp/stop1.err" "$tmp/stop2.err"
fi

echo "kefo_reader_test: $pass passed, $fail failed"
[ "$fail" = 0 ]
