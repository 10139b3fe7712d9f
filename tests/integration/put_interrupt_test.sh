#!/usr/bin/env bash
# kefo-put when the endpoint will not do: one nobody listens on fails with
# an error naming it within its retry budget, one that accepts and never
# answers fails within its call deadline, and against either a second
# SIGINT ends it at once, whatever it waits for (a reconnect, a backoff,
# an answer); one whose TLS certificate no trusted CA signed, or that
# does not speak TLS, fails at once naming why, and the same server
# trusted through aws.ca.file takes the records. No emulator: a free
# port, a node listener that never writes, and the project's mock server
# behind a throwaway CA (started here, always killed).
put=${KEFO_PUT:-./tools/kefo-put}
source "$(dirname "$0")/../support/harness/test_setup.sh"
set +e
export AWS_ACCESS_KEY_ID=AKIDKEFOTEST AWS_SECRET_ACCESS_KEY=kefo-test-secret
export AWS_REGION=us-east-1
pass=0
fail=0

seconds() { # from to
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}

ok() {
  pass=$((pass + 1))
  echo "ok   $*"
}

ko() { # name, then stderr's file
  fail=$((fail + 1))
  echo "FAIL $1"
  [ -z "${2:-}" ] || sed 's/^/     /' "$2" | tail -n 5
}

# alone NAME PORT LIMIT: kefo-put with nothing to stop it but itself exits
# non-zero within LIMIT seconds, its error naming 127.0.0.1:PORT.
alone() {
  local name=$1 port=$2 limit=$3 rc t0 t1 took
  t0=$(date +%s.%N)
  timeout -s KILL "$limit" "$put" --stream s \
    --endpoint "http://127.0.0.1:$port" --count 1 2>"$tmp/alone.err"
  rc=$?
  t1=$(date +%s.%N)
  took=$(seconds "$t0" "$t1")
  if [ "$rc" != 0 ] && [ "$rc" != 137 ] &&
     grep -q "127\.0\.0\.1:$port" "$tmp/alone.err"; then
    ok "$name: exit $rc in $took s (limit $limit s):" \
      "$(grep -m1 "127\.0\.0\.1:$port" "$tmp/alone.err")"
  else
    ko "$name: exit $rc after $took s (limit $limit s; 137: killed)" \
      "$tmp/alone.err"
  fi
}

# twice NAME PORT: kefo-put in the background, SIGINT once it is waiting,
# SIGINT again 1 s later: gone within 10 s of the second (at once, rather
# than after the graceful stop's 30 s; an ASan build's exit, its leak
# check included, took over 5 s on a machine at load 7), exit 130.
twice() {
  local name=$1 port=$2 pid rc i t0 t1 took
  "$put" --stream s --endpoint "http://127.0.0.1:$port" --count 1 \
    2>"$tmp/twice.err" &
  pid=$!
  KEFO_EMULATOR_PIDS+=("$pid")
  sleep 2
  kill -INT "$pid"
  sleep 1
  t0=$(date +%s.%N)
  kill -INT "$pid"
  while kill -0 "$pid" 2>/dev/null &&
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { exit !(b - a < 10) }'; do
    sleep 0.05
  done
  t1=$(date +%s.%N)
  took=$(seconds "$t0" "$t1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    ko "$name: still running $took s after the second SIGINT" \
      "$tmp/twice.err"
    return
  fi
  wait "$pid"
  rc=$?
  # It says what became of the record: perhaps written (a call was in
  # flight) or not written (none was: the shard map never came).
  if [ "$rc" = 130 ] && grep -Eq "may or may not|not written" "$tmp/twice.err"; then
    ok "$name: gone $took s after the second SIGINT, exit $rc:" \
      "$(grep -Em1 "may or may not|not written" "$tmp/twice.err")"
  else
    ko "$name: gone in $took s but exit $rc (want 130, and what was" \
      "perhaps written)" "$tmp/twice.err"
  fi
}

closed=$(kefo_free_port)
# (a) Refused at once, retried 10 times with the HTTP client's reconnect
# backoff (about 15 to 30 s), never past the 30 s call deadline.
alone "closed port" "$closed" 45
# (b) Between reconnect attempts, in a backoff or a connect.
twice "closed port, two SIGINTs" "$closed"

# A listener that accepts and never writes a byte.
node -e 'const s = require("net").createServer((c) => c.on("error", () => {}));
s.listen(0, "127.0.0.1", () => console.log(s.address().port));' \
  >"$tmp/silent.port" 2>/dev/null &
KEFO_EMULATOR_PIDS+=($!)
for ((i = 0; i < 100; i++)); do
  [ -s "$tmp/silent.port" ] && break
  sleep 0.1
done
silent=$(cat "$tmp/silent.port")
if [ -z "$silent" ]; then
  ko "silent server did not start"
else
  # (c) Waiting for an answer that never comes.
  twice "silent server, two SIGINTs" "$silent"
  # The call deadline (30 s, retries included) ends it alone too; without
  # it each attempt would wait 30 s for the response head.
  alone "silent server" "$silent" 45
fi

# tls NAME URL LIMIT PATTERN [ARGS...]: kefo-put of 100 records exits 1
# within LIMIT seconds (a certificate is not retried into the 30 s
# budget), its error naming the endpoint and matching PATTERN.
tls() {
  local name=$1 url=$2 limit=$3 pattern=$4 rc t0 t1 took
  shift 4
  t0=$(date +%s.%N)
  timeout -s KILL 60 "$put" --stream s --endpoint "$url" --count 100 "$@" \
    2>"$tmp/tls.err"
  rc=$?
  t1=$(date +%s.%N)
  took=$(seconds "$t0" "$t1")
  if [ "$rc" = 1 ] && grep -q "${url#https://}" "$tmp/tls.err" &&
     grep -Eq "$pattern" "$tmp/tls.err" &&
     awk -v t="$took" -v l="$limit" 'BEGIN { exit !(t < l) }'; then
    ok "$name: exit 1 in $took s:" "$(grep -Em1 "$pattern" "$tmp/tls.err")"
  else
    ko "$name: exit $rc after $took s (want 1 within $limit s, naming" \
      "$pattern)" "$tmp/tls.err"
  fi
}

source "$here/harness/mock.sh"
"$here/harness/make_test_ca.sh" "$tmp/ca" >/dev/null
kefo_start_mock --secret "$AWS_SECRET_ACCESS_KEY" \
  --tls "$tmp/ca/server.pem" "$tmp/ca/server.key" --preload "s:4:0:0"
tls_port=$KEFO_MOCK_PORT
kefo_start_mock --secret "$AWS_SECRET_ACCESS_KEY"
plain_port=$KEFO_MOCK_PORT
# (d) A certificate signed by a CA kefo does not trust (the system's
# store and no aws.ca.file), then by another CA than the one given.
tls "TLS, certificate of an unknown CA" "https://127.0.0.1:$tls_port" 10 \
  "certificate verify failed"
tls "TLS, certificate of another CA than aws.ca.file" \
  "https://127.0.0.1:$tls_port" 10 "certificate verify failed" \
  --set "aws.ca.file=$tmp/ca/other-ca.pem"
# (e) TLS asked of a server that speaks plain HTTP/2.
tls "TLS to a plain-text server" "https://127.0.0.1:$plain_port" 10 \
  "TLS with 127\.0\.0\.1:$plain_port failed"
# (f) The same server trusted: the records are written.
"$put" --stream s --endpoint "https://127.0.0.1:$tls_port" --count 1000 \
  --set "aws.ca.file=$tmp/ca/ca.pem" 2>"$tmp/trusted.err"
rc=$?
if [ "$rc" = 0 ] && grep -q "1000 written" "$tmp/trusted.err"; then
  ok "TLS with aws.ca.file naming the CA: $(tail -n 1 "$tmp/trusted.err")"
else
  ko "TLS with aws.ca.file naming the CA: exit $rc" "$tmp/trusted.err"
fi

# The documentation says so.
"$put" --help >"$tmp/help.out" 2>&1
if grep -q "a second" "$tmp/help.out" &&
   grep -q "one stops at once" "$tmp/help.out" &&
   grep -q "given up after 30 s" "$tmp/help.out"; then
  ok "--help: the second signal and the 30 s bound"
else
  ko "--help says nothing of the second signal or the bound" "$tmp/help.out"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
