#!/usr/bin/env bash
# kefo-reader --log-level through kefo's log hook (issue 27), on the
# project's mock Kinesis server (checking SigV4): one line per event on
# stderr, "ISO-8601-UTC LEVEL EVENT SHARD MESSAGE"; the events of a run
# (credentials, shards, subscriptions, checkpoints at debug); a run with
# the wrong secret key reports its retries with their cause; and never a
# secret: the hook's lines of both runs are grepped for the secret key
# and the session token (the mock's answer to a bad signature carries the
# canonical request, the session token among its headers).
bin=${KEFO_READER:-./tools/kefo-reader}
KEFO_MOCK=${KEFO_MOCK:-./tests/support/mock/kinesis-mock}
source "$(dirname "$0")/../support/harness/test_setup.sh"
source "$here/harness/mock.sh"
set +e
secret=kefo-log-secret-Zq81
token=kefo-log-session-token-Hn27
kefo_start_mock --secret "$secret" --preload logs:2:100:50
endpoint=http://127.0.0.1:$KEFO_MOCK_PORT
export AWS_ACCESS_KEY_ID=AKIDKEFOLOG AWS_SESSION_TOKEN=$token
export AWS_REGION=us-east-1
pass=0
fail=0
check() { # name, status, detail
  if [ "$2" = 0 ]; then
    pass=$((pass + 1))
    echo "ok   $1${3:+: $3}"
  else
    fail=$((fail + 1))
    echo "FAIL $1${3:+: $3}"
  fi
}
ts='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
shard='shardId-[0-9]{12}'

AWS_SECRET_ACCESS_KEY=$secret timeout 30 "$bin" --stream logs \
  --endpoint "$endpoint" --start trim-horizon --limit 100 --format none \
  --stats-interval 0 --log-level info 2>"$tmp/info.err"
check "info run: exit 0" $?
grep -E "$ts " "$tmp/info.err" >"$tmp/info.hook"
for want in "info  credentials.refreshed - credentials obtained" \
  "info  shard.started $shard reading started" \
  "info  subscription.opened $shard SubscribeToShard from TRIM_HORIZON"; do
  check "info run: $want" "$(grep -Eq "$ts $want" "$tmp/info.hook"; echo $?)" \
    "$(grep -Em1 "$ts $want" "$tmp/info.hook")"
done
check "info run: no debug line" "$(! grep -Eq "$ts debug " "$tmp/info.err"; echo $?)"
check "info run: every hook line is whole" \
  "$(! grep -Ev "$ts (error|warn |info |debug) [a-z_.]+ (-|$shard) ." \
     "$tmp/info.hook" | grep -q .; echo $?)" "$(wc -l <"$tmp/info.hook") lines"

AWS_SECRET_ACCESS_KEY=$secret timeout 30 "$bin" --stream logs \
  --endpoint "$endpoint" --start trim-horizon --limit 100 --format none \
  --stats-interval 0 --log-level debug 2>"$tmp/debug.err"
check "debug run: checkpoints and discovery at debug" \
  "$(grep -Eq "$ts debug checkpoint.stored " "$tmp/debug.err" &&
     grep -Eq "$ts debug shard.discovered $shard " "$tmp/debug.err"; echo $?)"

# The wrong secret: every call is refused (403), retried, and the run
# gives up after kefo-reader's 10 attempts.
AWS_SECRET_ACCESS_KEY=not-$secret timeout 60 "$bin" --stream logs \
  --endpoint "$endpoint" --start trim-horizon --limit 100 --format none \
  --stats-interval 0 --log-level info 2>"$tmp/bad.err"
check "bad secret: exit 1" "$([ $? = 1 ]; echo $?)"
grep -E "$ts " "$tmp/bad.err" >"$tmp/bad.hook"
check "bad secret: retries with their cause" \
  "$(grep -Eq "$ts warn  retry - .*InvalidSignatureException.*HTTP 403" \
     "$tmp/bad.hook"; echo $?)" "$(grep -Ec " retry " "$tmp/bad.hook") retry lines"
# The server's answer did carry the token (else the grep below proves
# nothing): the library's error text (kefo-reader's own lines, from
# on_error) shows the canonical request with the token's value redacted.
check "bad secret: the answer quoted the token header, its value redacted" \
  "$(grep -q "x-amz-security-token:\[redacted\]" "$tmp/bad.err" &&
     ! grep -q -- "$token" "$tmp/bad.err"; echo $?)"
for f in info debug bad; do
  check "$f run: the hook's lines hold neither the secret nor the token" \
    "$(! grep -E "$ts " "$tmp/$f.err" | grep -Eq -- "$secret|$token"; echo $?)" \
    "$(grep -Ec "$ts " "$tmp/$f.err") lines"
done
echo "reader log test: $pass passed, $fail failed"
[ $fail = 0 ]
