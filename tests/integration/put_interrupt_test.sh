#!/usr/bin/env bash
# kefo-put when the endpoint will not do: one nobody listens on fails with
# an error naming it within its retry budget, one that accepts and never
# answers fails within its call deadline, and against either a second
# SIGINT ends it at once, whatever it waits for (a reconnect, a backoff,
# an answer). No emulator: a free port, and a node listener that never
# writes (started here, always killed).
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
