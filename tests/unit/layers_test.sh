#!/usr/bin/env bash
# The layers run one way (issue 25): no file includes a header of a folder
# above its own in the order base < aws < shard < efo < polling < lease <
# runtime < tools (include/ is the public header, below them all). The only
# exceptions are the ones listed in scripts/layers-allowed.txt, each a
# debt with its reason; a new upward include fails this test, naming the
# file and the header.
srcdir=${KEFO_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$srcdir" || exit 1
order=(include base aws shard efo polling lease runtime tools)
rank() {
  local i
  for i in "${!order[@]}"; do
    [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }
  done
  echo -1
}
bad=0
checked=0
while IFS=: read -r file inc; do
  from=${file%%/*}
  to=${inc#*\"}
  to=${to%%/*}
  rf=$(rank "$from")
  rt=$(rank "$to")
  [ "$rf" -ge 0 ] && [ "$rt" -ge 0 ] || continue
  checked=$((checked + 1))
  header=${inc#*\"}
  header=${header%\"*}
  if [ "$rt" -gt "$rf" ] && ! grep -qx "$file $header" scripts/layers-allowed.txt; then
    echo "FAIL $file includes $header: $to/ is above $from/"
    bad=$((bad + 1))
  fi
done < <(grep -H '^#include "[a-z_]*/' base/*.[ch] aws/*.[ch] shard/*.[ch] \
  efo/*.[ch] polling/*.[ch] lease/*.[ch] runtime/*.[ch] tools/*.[ch] \
  2>/dev/null |
  sed 's/:#include /:/')
allowed=$(grep -c '^[a-z]' scripts/layers-allowed.txt || true)
echo "layers: $checked includes between folders checked, $allowed allowed exception(s)"
echo "$((bad == 0 ? 1 : 0)) passed, $((bad == 0 ? 0 : 1)) failed"
[ "$bad" = 0 ]
