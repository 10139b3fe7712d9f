#!/bin/sh
# kefo-config(5) is printed from the key table in runtime/config_keys.c by
# tools/gen_config_man. The page is committed (it is installed and
# distributed without building anything), so this checks that it is still
# what the table gives, and that groff reads it without a warning.
#
#   srcdir=SOURCE_TREE KEFO_GEN_CONFIG_MAN=BUILD/tools/gen_config_man \
#     tests/unit/config_man_test.sh
set -u

srcdir=${srcdir:-$(dirname "$0")/../..}
gen=${KEFO_GEN_CONFIG_MAN:-./tools/gen_config_man}
page=$srcdir/tools/kefo-config.5

if [ ! -x "$gen" ]; then
  echo "FAIL: $gen is not built (make tools/gen_config_man)" >&2
  exit 1
fi
if [ ! -f "$page" ]; then
  echo "FAIL: $page is missing" >&2
  exit 1
fi
tmp=$(mktemp "${TMPDIR:-/tmp}/kefo-config.XXXXXX") || exit 1
trap 'rm -f "$tmp" "$tmp.groff"' EXIT

if ! "$gen" >"$tmp"; then
  echo "FAIL: $gen failed" >&2
  exit 1
fi
if ! diff -u "$page" "$tmp"; then
  cat >&2 <<EOF
FAIL: tools/kefo-config.5 is out of date with the key table in
runtime/config_keys.c (the diff above turns the committed page into the
generated one). Run

  make update-config-man

in the build directory, and commit tools/kefo-config.5 with the table.
EOF
  exit 1
fi
echo "ok: tools/kefo-config.5 is what the key table gives"

# groff-base is installed by scripts/install-deps.sh: no skipping.
if ! command -v groff >/dev/null 2>&1; then
  echo "FAIL: groff is not installed (scripts/install-deps.sh installs groff-base)" >&2
  exit 1
fi
groff -man -Tutf8 -ww -z "$page" >"$tmp.groff" 2>&1
if [ -s "$tmp.groff" ]; then
  cat "$tmp.groff" >&2
  echo "FAIL: groff warns about tools/kefo-config.5" >&2
  exit 1
fi
echo "ok: groff -ww reads it without a warning"
exit 0
