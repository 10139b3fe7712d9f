#!/bin/sh
# kefo-eventstream on good and bad captures: JSON lines out, and for a bad
# frame an error naming the byte offset and the failed check, exit 1.
# Run by `make check` with KEFO_EVENTSTREAM, KEFO_VECTORS, KEFO_CORPUS set.
set -u
tool=${KEFO_EVENTSTREAM:?}
vec=${KEFO_VECTORS:?}/eventstream/encoded
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() { # name, condition result
  if [ "$2" = 0 ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $1"; fi
}

# Every positive vector decodes to one JSON line with its headers.
for f in "$vec"/positive/*; do
  "$tool" "$f" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  lines=$(wc -l <"$tmp/out")
  [ $rc = 0 ] && [ "$lines" = 1 ] && grep -q '^{"offset":0,' "$tmp/out"
  check "positive $(basename "$f")" $?
done
"$tool" "$vec/positive/all_headers" >"$tmp/out" 2>/dev/null
grep -q '"content-type":"application/json"' "$tmp/out" &&
  grep -q '"payload_encoding":"text","payload":"{.foo.:.bar.}"' "$tmp/out" &&
  grep -q '"uuid":"01020304-0506-0708-090a-0b0c0d0e0f10"' "$tmp/out"
check "all_headers content" $?

# Two messages from stdin: two lines, the second at the right offset.
cat "$vec/positive/int32_header" "$vec/positive/empty_message" |
  "$tool" - >"$tmp/out" 2>/dev/null
[ $? = 0 ] && [ "$(wc -l <"$tmp/out")" = 2 ] &&
  grep -q '^{"offset":45,"total_length":16,' "$tmp/out"
check "stdin, two messages" $?

# Negative vectors: exit 1 and the check named with its byte offset.
"$tool" "$vec/negative/corrupted_payload" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q 'message CRC check failed at byte offset 25' "$tmp/err"
check "corrupted_payload" $?
"$tool" "$vec/negative/corrupted_length" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q 'prelude CRC check failed at byte offset 8' "$tmp/err"
check "corrupted_length" $?
for f in "$vec"/negative/*; do
  "$tool" "$f" >/dev/null 2>&1
  [ $? = 1 ]
  check "negative $(basename "$f") exits 1" $?
done

# A capture cut short names where it ends.
head -c 50 "$vec/positive/all_headers" >"$tmp/cut"
"$tool" "$tmp/cut" >/dev/null 2>"$tmp/err"
[ $? = 1 ] && grep -q 'ends inside a message at byte offset 50' "$tmp/err"
check "truncated" $?

# Usage errors exit 2 with a message naming the problem.
"$tool" --max-message 3 "$vec/positive/all_headers" >/dev/null 2>"$tmp/err"
[ $? = 2 ] && grep -q -- "--max-message must be" "$tmp/err"
check "bad --max-message" $?
"$tool" --max-message 100 "$vec/positive/all_headers" >/dev/null 2>"$tmp/err"
[ $? = 1 ] && grep -q 'length limit check failed at byte offset 0' "$tmp/err"
check "message over --max-message" $?
"$tool" /nonexistent/file >/dev/null 2>"$tmp/err"
[ $? = 2 ] && grep -q 'cannot open /nonexistent/file' "$tmp/err"
check "missing file" $?

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
