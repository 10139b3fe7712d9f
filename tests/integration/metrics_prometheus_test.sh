#!/usr/bin/env bash
# kefo-reader's metrics scraped by a real Prometheus (issue 27): kefo-put
# writes to a 3-shard stream of kinesis-local, kefo-reader reads it with
# --metrics-listen, and a Prometheus server (Debian's package; its own
# port, storage and configuration in the test's temporary folder, always
# stopped) scrapes it every second. Its query API must then give, per
# shard, the records counter kefo-reader's own output counts, and a
# MillisBehindLatest; with the leases in a DynamoDB table (dynalite), the
# leases held, the checkpoints written and their latency histogram, and
# the HTTP/2 connection and streams of the subscriptions; promtool must
# accept the exposition. Skipped (77)
# only where prometheus or kinesis-local is not installed.
bin=${KEFO_READER:-./tools/kefo-reader}
put=${KEFO_PUT:-./tools/kefo-put}
source "$(dirname "$0")/../support/harness/test_setup.sh"
set +e
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  echo "prometheus is not installed (apt-get install prometheus): skipped" >&2
  exit 77
fi
kefo_start_kinesis_local || exit 1
kefo_start_dynalite || exit 1
endpoint=http://127.0.0.1:$KEFO_KINESIS_PORT
printf '%s\n' "source.lease.dynamodb.endpoint=http://127.0.0.1:$KEFO_DYNALITE_PORT" \
  "source.checkpoint.interval=500ms" >"$tmp/reader.conf"
export AWS_ACCESS_KEY_ID=AKIDKEFOTEST AWS_SECRET_ACCESS_KEY=kefo-test-secret
export AWS_REGION=us-east-1
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
records=3000

# GET URL: prints the status code, then the body.
get() {
  node -e '
    process.stdout.on("error", () => {});
    require("http").get(process.argv[1], (res) => {
      let b = ""; res.on("data", (c) => (b += c));
      res.on("end", () => { console.log(res.statusCode); process.stdout.write(b); });
    }).on("error", (e) => { console.log("000 " + e.message); });' "$1"
}

# QUERY: Prometheus's instant query answer as "shard value" lines (the
# shard label, "-" when the series has none), sorted.
query() {
  node -e '
    const q = encodeURIComponent(process.argv[2]);
    require("http").get(process.argv[1] + "/api/v1/query?query=" + q, (res) => {
      let b = ""; res.on("data", (c) => (b += c));
      res.on("end", () => {
        const r = JSON.parse(b);
        if (r.status !== "success") { console.error(b); process.exit(1); }
        const out = r.data.result.map((s) =>
          (s.metric.shard || "-") + " " + s.value[1]);
        out.sort().forEach((l) => console.log(l));
      });
    }).on("error", (e) => { console.error(e.message); process.exit(1); });' \
    "http://127.0.0.1:$prom_port" "$1"
}

node "$here/harness/kl_call.js" "$KEFO_KINESIS_PORT" CreateStream \
  '{"StreamName":"prom","ShardCount":3}' >/dev/null
sleep 0.5
"$put" --stream prom --endpoint "$endpoint" --count $records --size 100 \
  --quiet 2>"$tmp/put.err" || bad "kefo-put: $(cat "$tmp/put.err")"

"$bin" --stream prom --endpoint "$endpoint" --start trim-horizon \
  --lease-table kefo_prom --config "$tmp/reader.conf" \
  --metrics-listen 127.0.0.1:0 --stats-interval 0 >"$tmp/out" \
  2>"$tmp/reader.err" &
reader=$!
KEFO_EMULATOR_PIDS+=("$reader")
for ((i = 0; i < 100; i++)); do
  addr=$(grep -o 'metrics on http://[^/]*' "$tmp/reader.err" | sed 's|.*//||')
  [ -n "$addr" ] && break
  sleep 0.1
done

# Prometheus on a port of its own, scraping kefo-reader every second.
prom_port=$(kefo_free_port)
cat >"$tmp/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: kefo
    static_configs:
      - targets: ['$addr']
YML
prometheus --config.file="$tmp/prometheus.yml" \
  --storage.tsdb.path="$tmp/prometheus-data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn \
  >"$tmp/prometheus.log" 2>&1 &
KEFO_EMULATOR_PIDS+=($!)
for ((i = 0; i < 300; i++)); do
  r=$(get "http://127.0.0.1:$prom_port/-/ready")
  [ "${r%%$'\n'*}" = 200 ] && break
  sleep 0.1
done
[ "${r%%$'\n'*}" = 200 ] || { bad "prometheus not ready:"; tail "$tmp/prometheus.log"; }

# Every record written, out of kefo-reader: its own per-shard counts.
for ((i = 0; i < 300; i++)); do
  [ "$(wc -l <"$tmp/out")" -ge $records ] && break
  sleep 0.1
done
grep -o '"shard":"[^"]*"' "$tmp/out" | sed 's/"shard":"//; s/"$//' |
  sort | uniq -c | awk '{print $2, $1}' >"$tmp/reader.counts"
# A few scrapes later, Prometheus holds the same counts.
for ((i = 0; i < 30; i++)); do
  query 'kefo_shard_records_total{job="kefo",stream="prom"}' >"$tmp/prom.counts"
  cmp -s "$tmp/reader.counts" "$tmp/prom.counts" && break
  sleep 1
done
if [ "$(wc -l <"$tmp/out")" = $records ] &&
   [ "$(wc -l <"$tmp/reader.counts")" = 3 ] &&
   cmp -s "$tmp/reader.counts" "$tmp/prom.counts"; then
  ok "kefo_shard_records_total in Prometheus = kefo-reader's output, per shard:"
else
  bad "records: kefo-reader printed $(wc -l <"$tmp/out"), per shard vs Prometheus:"
fi
paste "$tmp/reader.counts" "$tmp/prom.counts" |
  awk '{printf "       %s  kefo-reader %s  prometheus %s\n", $1, $2, $4}'

query 'kefo_shard_behind_latest_seconds{job="kefo",stream="prom"} * 1000' \
  >"$tmp/behind"
if [ "$(wc -l <"$tmp/behind")" = 3 ] &&
   [ "$(cut -d' ' -f1 "$tmp/behind")" = "$(cut -d' ' -f1 "$tmp/reader.counts")" ]; then
  ok "millis behind latest, per shard: $(tr '\n' ' ' <"$tmp/behind")"
else
  bad "millis behind latest: $(cat "$tmp/behind")"
fi
query 'sum(kefo_shard_state{job="kefo",state="reading"})' >"$tmp/reading"
query 'up{job="kefo"}' >"$tmp/up"
query 'kefo_build_info{job="kefo"}' >"$tmp/build"
query 'kefo_subscriptions_opened_total{job="kefo"}' >"$tmp/subs"
if [ "$(cat "$tmp/reading")" = "- 3" ] && [ "$(cat "$tmp/up")" = "- 1" ] &&
   [ "$(cat "$tmp/build")" = "- 1" ] && [ "$(cut -d' ' -f2 "$tmp/subs")" -ge 3 ]; then
  ok "up 1, 3 shards reading, kefo_build_info 1," \
    "subscriptions opened $(cut -d' ' -f2 "$tmp/subs")"
else
  bad "up '$(cat "$tmp/up")', reading '$(cat "$tmp/reading")'," \
    "build_info '$(cat "$tmp/build")', subscriptions '$(cat "$tmp/subs")'"
fi

# The lease table's side: the 3 leases held; checkpoints written (each
# batch one observation of the latency histogram, for one or more
# shards), none failed; the subscriptions' HTTP/2 connection and streams.
for ((i = 0; i < 20; i++)); do
  query 'kefo_leases_held{job="kefo"}' >"$tmp/leases"
  query 'kefo_checkpoints_total{job="kefo"}' >"$tmp/cps"
  query 'kefo_checkpoint_duration_seconds_count{job="kefo"}' >"$tmp/cp_count"
  query 'kefo_checkpoint_duration_seconds_bucket{job="kefo",le="+Inf"}' \
    >"$tmp/cp_inf"
  query 'kefo_checkpoint_failures_total{job="kefo"}' >"$tmp/cp_failed"
  query 'kefo_http2_connections{job="kefo"}' >"$tmp/h2c"
  query 'kefo_http2_streams{job="kefo"}' >"$tmp/h2s"
  cps=$(cut -d' ' -f2 "$tmp/cps")
  count=$(cut -d' ' -f2 "$tmp/cp_count")
  [ "${cps:-0}" -ge 3 ] && [ "${count:-0}" -ge 1 ] && break
  sleep 1
done
h2c=$(cut -d' ' -f2 "$tmp/h2c")
h2s=$(cut -d' ' -f2 "$tmp/h2s")
if [ "$(cat "$tmp/leases")" = "- 3" ] && [ "${cps:-0}" -ge 3 ] &&
   [ "${count:-0}" -ge 1 ] && [ "$count" -le "$cps" ] &&
   [ "$(cut -d' ' -f2 "$tmp/cp_inf")" = "$count" ] &&
   [ "$(cat "$tmp/cp_failed")" = "- 0" ] &&
   [ "${h2c:-0}" -ge 1 ] && [ "${h2s:-0}" -ge 3 ]; then
  ok "leases held 3; $cps shard checkpoints in $count batches (histogram" \
    "count = le=+Inf bucket), 0 failed; HTTP/2 connections $h2c, streams $h2s"
else
  bad "leases '$(cat "$tmp/leases")', checkpoints '$cps' in '$count'" \
    "batches (+Inf '$(cat "$tmp/cp_inf")', failed '$(cat "$tmp/cp_failed")')," \
    "HTTP/2 connections '$h2c', streams '$h2s'"
fi

# promtool's own check of the exposition (and it is not empty).
m=$(get "http://$addr/metrics")
sed 1d <<<"$m" >"$tmp/scrape.txt"
if [ "${m%%$'\n'*}" = 200 ] &&
   grep -q '^kefo_build_info{version="' "$tmp/scrape.txt" &&
   grep -q '^kefo_shard_records_total{stream="prom",shard=' "$tmp/scrape.txt" &&
   promtool check metrics <"$tmp/scrape.txt" >"$tmp/promtool.out" 2>&1; then
  ok "promtool check metrics: accepted ($(wc -l <"$tmp/scrape.txt") lines," \
    "$(grep -c '^# TYPE' "$tmp/scrape.txt") families)"
else
  bad "promtool check metrics:"
  cat "$tmp/promtool.out"
fi

kill -TERM $reader
wait $reader
rc=$?
[ $rc = 0 ] && grep -q "^kefo-reader: $records records" "$tmp/reader.err" &&
  ok "kefo-reader: $(tail -n 1 "$tmp/reader.err")" ||
  bad "kefo-reader exit $rc: $(tail -n 2 "$tmp/reader.err")"

echo "metrics_prometheus_test: $pass passed, $fail failed"
[ "$fail" = 0 ]
