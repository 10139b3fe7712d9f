#!/usr/bin/env bash
# Prints the include graph between the source folders (issue 25): for each
# folder, its lines of C, and each edge "from -> to: N includes", then the
# edges that run against the layer order and the cycles between folders.
# Usage: bash scripts/include-graph.sh [LAYER ...]   (lowest layer first;
# default: the order of ../shared/DESIGN.md as far as the folders exist)
set -euo pipefail
cd "$(dirname "$0")/.."
layers=("$@")
[ ${#layers[@]} -gt 0 ] ||
  layers=(include base aws shard efo polling lease runtime tools examples)
folders=$(find . -name '*.[ch]' -not -path './build*' -not -path './node_modules/*' \
  -not -path './tests/*' -not -path './bench/*' | cut -d/ -f2 | sort -u)
echo "lines of C per folder:"
for f in $folders; do
  printf '  %-10s %6d lines in %3d files\n' "$f" \
    "$(cat $(find "$f" -name '*.[ch]') | wc -l)" "$(find "$f" -name '*.[ch]' | wc -l)"
done
edges=$(for f in $folders; do
  grep -ho '^#include "[a-z_]*/' $(find "$f" -name '*.[ch]') 2>/dev/null |
    sed 's/#include "//; s,/$,,' | grep -vx "$f" | grep -vx 'config' |
    sed "s/^/$f /" || true
done | sort | uniq -c | awk '{ print $2, $3, $1 }')
# <kefo/kefo.h> is the public header (include/).
echo "edges (from -> to: includes):"
echo "$edges" | awk 'NF { printf "  %-8s -> %-8s %4d\n", $1, $2, $3 }'
rank() {
  local i
  for i in "${!layers[@]}"; do
    [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }
  done
  echo 99
}
up=0
echo "upward edges (against: ${layers[*]}):"
while read -r a b n; do
  [ -n "$a" ] || continue
  if [ "$(rank "$a")" -lt "$(rank "$b")" ]; then
    printf '  %s -> %s (%d includes)\n' "$a" "$b" "$n"
    up=$((up + 1))
  fi
done <<<"$edges"
echo "cycles between two folders:"
cyc=0
while read -r a b n; do
  [ -n "$a" ] || continue
  if [[ "$a" < "$b" ]] && echo "$edges" | grep -q "^$b $a "; then
    echo "  $a <-> $b"
    cyc=$((cyc + 1))
  fi
done <<<"$edges"
echo "$up upward edge(s), $cyc two-folder cycle(s)"
