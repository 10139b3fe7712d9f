#!/usr/bin/env bash
# Every C file is laid out by the committed .clang-format (clang-format
# 14, Debian 12's, which scripts/install-deps.sh installs): a file that
# `clang-format -i` would change fails here, named with its first
# differing lines. Layout then never shows up in a review's diff.
srcdir=${KEFO_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$srcdir" || exit 1
cf=$(command -v clang-format-14 || command -v clang-format) || {
  echo "FAIL clang-format is not installed (scripts/install-deps.sh installs it)"
  exit 1
}
bad=0
n=0
while IFS= read -r f; do
  n=$((n + 1))
  if ! "$cf" --style=file "$f" | cmp -s - "$f"; then
    echo "FAIL $f is not as clang-format lays it out:"
    "$cf" --style=file "$f" | diff -u "$f" - | sed -n '3,12p'
    bad=$((bad + 1))
  fi
done < <(find base aws shard efo polling lease runtime tools include examples \
  bench tests -name '*.[ch]' -type f | sort)
echo "format: $n files checked, $bad not formatted"
echo "$((bad == 0 ? 1 : 0)) passed, $((bad == 0 ? 0 : 1)) failed"
[ "$bad" -eq 0 ]
