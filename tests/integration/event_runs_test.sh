#!/usr/bin/env bash
# Events handed on in runs as they arrive (source.efo.event.whole-max-bytes,
# issue 28) under the faults that strike an event in the middle: the
# project's mock (started on a free port, always stopped) preloads one
# shard of 30,000 records of 1 KiB, sent as events of about 1.4 MB, and
# kefo-reader reads it from TRIM_HORIZON with whole-max-bytes 64KiB, so
# each event goes on in runs of 32 KiB. Each fault is armed to strike the
# first event twice (the first subscription's, and its next, or the
# resubscription's): a bad message CRC (found at the event's end, after its runs went
# on), a truncated event, half a JSON payload, a dropped connection, a
# reset stream, a GOAWAY. Every run must deliver each record exactly
# once, in order, report the fault and retry; a bad CRC's message must
# say how many runs had gone on. Then the same read holding every event
# whole (16MiB) refuses the bad CRC before any record of it goes on.
bin=${KEFO_READER:-./tools/kefo-reader}
KEFO_MOCK=${KEFO_MOCK:-./tests/support/mock/kinesis-mock}
source "$(dirname "$0")/../support/harness/test_setup.sh"
source "$here/harness/mock.sh"
set +e
export AWS_ACCESS_KEY_ID=AKIDKEFOTEST AWS_SECRET_ACCESS_KEY=kefo-test-secret
export AWS_REGION=us-east-1
n=30000
kefo_start_mock --preload "runs:1:$n:1024" || exit 1
ep=http://127.0.0.1:$KEFO_MOCK_PORT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# read NAME WHOLE_MAX KIND: arms KIND (none: no fault) for two strikes,
# reads every record, checks them; sets $err to the reader's stderr file.
read_all() {
  local name=$1 whole=$2 kind=$3 got dup order
  printf 'source.efo.event.whole-max-bytes=%s\nretry-strategy.delay.min=50ms\nretry-strategy.delay.max=100ms\n' \
    "$whole" >"$tmp/$name.conf"
  if [ "$kind" != none ]; then
    node "$here/harness/mock_call.js" "$KEFO_MOCK_PORT" KefoMock.Fault \
      "{\"Kind\":\"$kind\",\"Count\":2,\"Operation\":\"SubscribeToShard\"}" \
      >/dev/null || { bad "$name: arming $kind"; return; }
  fi
  err=$tmp/$name.err
  timeout 60 "$bin" --stream runs --endpoint "$ep" --start trim-horizon \
    --consumer-name "c-$name" --format raw --limit "$n" --stats-interval 0 \
    --log-level warn --config "$tmp/$name.conf" >"$tmp/$name.out" 2>"$err"
  local rc=$?
  # Each record's data is its index padded with dots.
  tr -d . <"$tmp/$name.out" >"$tmp/$name.idx"
  got=$(wc -l <"$tmp/$name.idx")
  dup=$(sort -n "$tmp/$name.idx" | uniq -d | wc -l)
  order=$(awk -v n="$n" '$1 != NR - 1 { print NR ": " $1; exit }' \
    "$tmp/$name.idx")
  if [ $rc = 0 ] && [ "$got" = "$n" ] && [ "$dup" = 0 ] && [ -z "$order" ]; then
    ok "$name: $got records, each once, in order"
  else
    bad "$name: exit $rc, $got records, $dup twice, first out of order '$order'"
    tail -n 5 "$err"
  fi
}

read_all clean 64KiB none
if grep -Eq ' (warn|error) ' "$tmp/clean.err"; then
  bad "clean: errors: $(head -n 3 "$tmp/clean.err")"
else
  ok "clean: no error"
fi
for kind in bad-message-crc truncate malformed-json drop rst-stream goaway; do
  read_all "$kind" 64KiB "$kind"
  retries=$(grep -c 'SubscribeToShard failed' "$err")
  # The second strike may fall on an event the server built ahead, which
  # the reset after the first discards: at least one is seen.
  if [ "$retries" -ge 1 ]; then
    ok "$kind: $retries failures reported and retried: $(grep -m1 -o 'SubscribeToShard failed.*' "$err" | cut -c1-160)"
  else
    bad "$kind: no failure reported"
    tail -n 5 "$err"
  fi
done
if grep -Eq 'message CRC check failed at byte [0-9]+ .*after [1-9][0-9]* runs of the event.s records were handed on' \
  "$tmp/bad-message-crc.err"; then
  ok "bad-message-crc: the message says the runs went on"
else
  bad "bad-message-crc: no 'after N runs' in: $(grep -m1 CRC "$tmp/bad-message-crc.err")"
fi

# Whole events: the CRC is checked before any record of the event goes on.
read_all whole-crc 16MiB bad-message-crc
if grep -Eq 'message CRC check failed at byte [0-9]+ \(' "$err" &&
   ! grep -q 'runs of the event' "$err"; then
  ok "whole-crc: refused whole: $(grep -m1 -o 'event stream broken.*' "$err" | cut -c1-120)"
else
  bad "whole-crc: $(grep -m1 CRC "$err")"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
