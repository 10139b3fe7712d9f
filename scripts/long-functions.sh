#!/usr/bin/env bash
# Prints every function longer than N lines (default 80) in the library and
# tools sources, longest first, as "file:line  name  length", then the
# count, and the files longer than 800 lines (issue 25: functions over ~80
# lines and files over ~800 are split where the split has a name).
# Usage: bash scripts/long-functions.sh [N] [DIR ...]
#   (default DIRs: aws base efo polling lease runtime tools)
# A function's length runs from the first line of its signature to its
# closing brace. It reads the code as clang-format lays it out (a
# definition starts in column 0, its body ends with "}" in column 0), so it
# needs nothing but awk: no compiler, no ctags.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-80}
shift || true
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(aws base efo polling lease runtime tools)
files=$(find "${dirs[@]}" -name '*.c' | sort)

# shellcheck disable=SC2086
awk -v limit="$limit" '
  FNR == 1 { start = 0; name = ""; body = 0; incomment = 0 }
  # Comments may hold parentheses and braces; a signature never sits in one.
  {
    line = $0
    if (incomment) {
      if (line !~ /\*\//) next
      sub(/^.*\*\//, "", line)
      incomment = 0
    }
    gsub(/\/\*([^*]|\*+[^*\/])*\*+\//, "", line)
    if (line ~ /\/\*/) { sub(/\/\*.*$/, "", line); incomment = 1 }
  }
  body {
    if (line ~ /^}/) {
      len = FNR - start + 1
      if (len > limit)
        printf "%d\t%s:%d\t%s\n", len, FILENAME, start, name
      body = 0; start = 0
    }
    next
  }
  # A definition or prototype starts in column 0 with an identifier and has
  # its "(" before any "=" (which would make it a variable).
  !start && line ~ /^[A-Za-z_]/ && line !~ /^(typedef|struct [A-Za-z_0-9]+ *\{|enum|union)/ {
    p = index(line, "("); e = index(line, "=")
    if (p && (!e || p < e)) {
      s = substr(line, 1, p - 1)
      sub(/[ \t*]+$/, "", s)
      n = split(s, w, /[ \t*]+/)
      name = w[n]; start = FNR
    }
  }
  start {
    if (line ~ /\{[ \t]*$/) { body = 1; next }
    if (line ~ /;[ \t]*$/) start = 0
  }
' $files | sort -t "$(printf '\t')" -k1,1nr | awk -F '\t' '
  { printf "%-40s %-36s %5d\n", $2, $3, $1; n++ }
  END { printf "%d functions longer than '"$limit"' lines\n", n }'

echo "files longer than 800 lines:"
# shellcheck disable=SC2086
wc -l $files | awk '$2 != "total" && $1 > 800 { printf "  %-38s %5d\n", $2, $1; n++ }
  END { printf "%d files longer than 800 lines\n", n }'
