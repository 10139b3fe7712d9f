#!/usr/bin/env bash
# Installs what is missing, builds kefo with AddressSanitizer and
# UndefinedBehaviorSanitizer (LeakSanitizer on), runs every test (make
# check, check-integration and check-long: make check-all), checks
# that `make distcheck` passes, and ends with the unit tests' CUnit summary.
# Usage: bash scripts/test.sh        (as root on a fresh Debian 12 machine)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/install-deps.sh
if [ ! -x configure ] || [ configure.ac -nt configure ] ||
   [ Makefile.am -nt Makefile.in ]; then
  ./autogen.sh >/tmp/kefo-autogen.out 2>&1 || { cat /tmp/kefo-autogen.out; exit 1; }
fi

# The test vectors live beside the repository (../shared/vectors).
vectors=${KEFO_VECTORS:-$top/../shared/vectors}
if [ ! -d "$vectors" ]; then
  echo "test.sh: test vectors not found at $vectors (set KEFO_VECTORS)" >&2
  exit 1
fi
vectors=$(cd "$vectors" && pwd)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# 1. Sanitizer build and every test.
mkdir -p build-asan
(cd build-asan &&
  { [ -f Makefile ] || ../configure --enable-asan --enable-werror \
      --with-vectors="$vectors" >configure.out; } &&
  make -j"$jobs" >make.out 2>&1 || { cat make.out; exit 1; })
status=0
# All three sets: make check (unit, fuzz replays, mock server),
# check-integration (emulators, the tools as a user runs them) and
# check-long (a million records, kills), side by side.
(cd build-asan && make -j"$jobs" check-all >check.out 2>&1) || status=$?
for log in build-asan/tests/*.log build-asan/tests/*/*.log; do
  case "$log" in */test-suite.log) continue ;; esac
  echo "=== ${log#build-asan/}"
  # The unit tests' summary comes last, below.
  [ "$log" = build-asan/tests/unit/main.log ] || cat "$log"
done
grep -E '^(# |PASS|FAIL|ERROR|XPASS)' build-asan/check.out || true

# 2. The release tarball builds and passes its own tests.
if [ $status = 0 ]; then
  echo "=== make distcheck"
  # The sanitizer run above is the full one; the tarball's own check is
  # `make check`, the fast set.
  (cd build-asan && MOCK_BIG_RECORDS=100000 MOCK_LIFETIME_SECONDS=10 \
    MOCK_IDLE_SECONDS=2 make distcheck >distcheck.out 2>&1) || {
    tail -40 build-asan/distcheck.out; status=1; }
  grep -A1 'archives ready' build-asan/distcheck.out || true
fi

echo "=== tests/unit/main (CUnit, built with ASan+UBSan+LSan)"
cat build-asan/tests/unit/main.log
exit $status
