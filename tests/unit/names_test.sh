#!/usr/bin/env bash
# Internal symbols look internal (issue 25): every global symbol the
# library's objects define is either a public one, listed in
# tests/support/exports.txt, or carries the internal prefix kefo__ (as
# libuv's uv__ and curl's Curl_), so a reader of any call site knows
# whether it is API. A new internal function named kefo_x fails here,
# naming the symbol and the object that defines it.
srcdir=${KEFO_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${KEFO_BUILDDIR:-.}
lib="$builddir/.libs/libkefo_internal.a"
if [ ! -f "$lib" ]; then
  echo "FAIL $lib not built"
  exit 1
fi
bad=0
total=0
internal=0
while read -r obj sym; do
  total=$((total + 1))
  if grep -qx "$sym" "$srcdir/tests/support/exports.txt"; then
    continue
  fi
  case $sym in
  __odr_asan.* | __asan_* | __ubsan_* | __sanitizer_*)
    # Added by the sanitizer build (ASan's ODR indicators), not by us.
    total=$((total - 1))
    ;;
  kefo__*) internal=$((internal + 1)) ;;
  *)
    echo "FAIL $sym (defined in $obj) is neither public nor kefo__"
    bad=$((bad + 1))
    ;;
  esac
done < <(nm -A -g --defined-only "$lib" 2>/dev/null |
  awk '$2 ~ /^[TDBRCVW]$/ { sub(/:$/, "", $1); n = split($1, p, ":"); print p[n - 1], $3 }')
echo "names: $total global symbols, $internal internal (kefo__), $((total - internal)) public"
[ "$total" -gt 0 ] || { echo "FAIL no symbols read from $lib"; bad=1; }
echo "$((bad == 0 ? 1 : 0)) passed, $((bad == 0 ? 0 : 1)) failed"
[ "$bad" -eq 0 ]
