#!/usr/bin/env bash
# kefo-reader --metrics-listen against the project's mock Kinesis server
# (issue 27): a bad address and a port in use each get their message and
# exit status; /metrics and /healthz answer while the reader reads; then
# the mock refuses one shard's next subscription with AccessDeniedException
# (no retry mends it): that shard fails, /healthz turns 503 and /metrics
# shows the shard failed beside the other one still reading.
bin=${KEFO_READER:-./tools/kefo-reader}
KEFO_MOCK=${KEFO_MOCK:-./tests/support/mock/kinesis-mock}
source "$(dirname "$0")/../support/harness/test_setup.sh"
source "$here/harness/mock.sh"
set +e
export AWS_ACCESS_KEY_ID=AKIDKEFOTEST AWS_SECRET_ACCESS_KEY=kefo-test-secret
export AWS_REGION=us-east-1
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# GET URL: prints the status line's code, then the body.
get() {
  node -e '
    process.stdout.on("error", () => {});
    require("http").get(process.argv[1], (res) => {
      let b = ""; res.on("data", (c) => (b += c));
      res.on("end", () => { console.log(res.statusCode); process.stdout.write(b); });
    }).on("error", (e) => { console.log("000 " + e.message); });' "$1"
}

# The address kefo-reader printed ("metrics on http://A:P/metrics").
address_of() {
  local i
  for ((i = 0; i < 100; i++)); do
    a=$(grep -o 'metrics on http://[^/]*' "$1" | sed 's|.*http://||')
    [ -n "$a" ] && { echo "$a"; return 0; }
    sleep 0.1
  done
  return 1
}

# A metric sample's value in the text $1: the line starting with $2.
sample() { grep -F -- "$2" <<<"$1" | head -n 1 | awk '{print $2}'; }

kefo_start_mock --preload hz:2:400:100
ep=http://127.0.0.1:$KEFO_MOCK_PORT
run=(--stream hz --endpoint "$ep" --start trim-horizon --format none
     --stats-interval 0)

for a in localhost:9464 127.0.0.1 127.0.0.1:65536 127.0.0.1:x '[::1:9464'; do
  timeout 10 "$bin" "${run[@]}" --metrics-listen "$a" 2>"$tmp/err"
  rc=$?
  if [ $rc = 2 ] && grep -Fq "metrics-listen $a: not ADDRESS:PORT" "$tmp/err"; then
    ok "--metrics-listen $a: exit 2: $(cat "$tmp/err")"
  else
    bad "--metrics-listen $a: exit $rc: $(cat "$tmp/err")"
  fi
done
# 192.0.2.1 (TEST-NET-1) is no address of this host.
timeout 10 "$bin" "${run[@]}" --metrics-listen 192.0.2.1:9464 2>"$tmp/err"
rc=$?
if [ $rc = 1 ] && grep -q "cannot listen on 192.0.2.1:9464: Cannot assign" "$tmp/err"; then
  ok "an address not this host's: exit 1: $(cat "$tmp/err")"
else
  bad "an address not this host's: exit $rc: $(cat "$tmp/err")"
fi

"$bin" "${run[@]}" --metrics-listen 127.0.0.1:0 2>"$tmp/reader.err" &
reader=$!
addr=$(address_of "$tmp/reader.err")
# The port the first reader listens on is in use for a second one.
timeout 10 "$bin" "${run[@]}" --metrics-listen "$addr" 2>"$tmp/err"
rc=$?
if [ $rc = 1 ] && grep -q "cannot listen on $addr: Address already in use" "$tmp/err"; then
  ok "port in use: exit 1: $(cat "$tmp/err")"
else
  bad "port in use ($addr): exit $rc: $(cat "$tmp/err")"
fi

# Reading: every record of both shards delivered, healthy.
for ((i = 0; i < 100; i++)); do
  m=$(get "http://$addr/metrics")
  r0=$(sample "$m" 'kefo_shard_records_total{stream="hz",shard="shardId-000000000000"}')
  r1=$(sample "$m" 'kefo_shard_records_total{stream="hz",shard="shardId-000000000001"}')
  [ $((${r0:-0} + ${r1:-0})) = 400 ] && break
  sleep 0.1
done
h=$(get "http://$addr/healthz"); h=${h%%$'\n'*}
age=$(sample "$m" 'kefo_shard_last_delivery_age_seconds{stream="hz",shard="shardId-000000000000"}')
wm=$(sample "$m" 'kefo_shard_watermark_seconds{stream="hz",shard="shardId-000000000000"}')
now=$(date +%s)
if [ "$(head -n 1 <<<"$m")" = 200 ] && [ $((r0 + r1)) = 400 ] && [ "$h" = 200 ] &&
   awk -v a="$age" -v w="$wm" -v n="$now" \
     'BEGIN { exit !(a != "" && a >= 0 && a < 30 && w > n - 3600 && w <= n + 1) }'; then
  ok "reading: records $r0 + $r1 = 400 on /metrics, /healthz $h," \
    "last delivery ${age} s ago, watermark $wm (now $now)"
else
  bad "reading: records '$r0' + '$r1', /healthz $h, age '$age'," \
    "watermark '$wm' (now $now); /metrics:"
  head -n 5 <<<"$m"
fi
miss=$(get "http://$addr/nothing"); miss=${miss%%$'\n'*}
[ "$miss" = 404 ] && ok "/nothing: 404" || bad "/nothing: $miss"

# Shard 1's subscription ends (as at 5 minutes); its next one is refused.
node "$here/harness/mock_call.js" "$KEFO_MOCK_PORT" KefoMock.Fault \
  '{"Kind":"expire","Shard":"shardId-000000000001","Then":"access-denied","ThenCount":100}' \
  >/dev/null || bad "arming the fault"
for ((i = 0; i < 200; i++)); do
  h=$(get "http://$addr/healthz"); h=${h%%$'\n'*}
  [ "$h" = 503 ] && break
  sleep 0.1
done
m=$(get "http://$addr/metrics")
f1=$(sample "$m" 'kefo_shard_state{stream="hz",shard="shardId-000000000001",state="failed"}')
r0=$(sample "$m" 'kefo_shard_state{stream="hz",shard="shardId-000000000000",state="reading"}')
srv=$(sample "$m" 'kefo_errors_total{stream="hz",kind="server"}')
# The expired subscription was renewed (then refused).
ren=$(sample "$m" 'kefo_subscriptions_renewed_total{stream="hz"}')
if [ "$h" = 503 ] && [ "$f1" = 1 ] && [ "$r0" = 1 ] && [ "${srv:-0}" -ge 1 ] &&
   [ "${ren:-0}" -ge 1 ] &&
   grep -q "shardId-000000000001.*AccessDeniedException" "$tmp/reader.err"; then
  ok "shard 1 refused: /healthz 503 after $((i / 10)).$((i % 10)) s," \
    "state failed $f1, shard 0 reading $r0, server errors $srv," \
    "renewals $ren"
else
  bad "shard 1 refused: /healthz $h, failed '$f1', shard 0 reading '$r0'," \
    "server errors '$srv', renewals '$ren'; reader's stderr:"
  tail -n 5 "$tmp/reader.err"
fi
kill -TERM $reader
wait $reader
rc=$?
# A shard failed: the run's status says so.
[ $rc = 1 ] && ok "kefo-reader exit 1 (a shard failed)" ||
  bad "kefo-reader exit $rc (want 1)"

echo "reader_health_test: $pass passed, $fail failed"
[ "$fail" = 0 ]
