#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 60) and prints its
# executions and crashes. New inputs that add coverage are merged into
# tests/fuzz/corpus/<target>, which `make check` replays.
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]
#   TARGET: event_stream, kpl, profile_file, config_file, json_responses,
#           sts_event, base64, h2_frame_scan, kpl_aggregate, records_split,
#           cbor
#           (default: all)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(event_stream kpl profile_file config_file json_responses sts_event base64 h2_frame_scan kpl_aggregate records_split cbor)

bash scripts/install-deps.sh >/dev/null
if [ ! -x configure ] || [ configure.ac -nt configure ] ||
   [ Makefile.am -nt Makefile.in ]; then
  ./autogen.sh >/tmp/kefo-autogen.out 2>&1 || { cat /tmp/kefo-autogen.out; exit 1; }
fi
mkdir -p build-fuzz
(cd build-fuzz &&
  { [ -f Makefile ] || CC=clang ../configure --enable-fuzz >/dev/null; } &&
  make -j"$(nproc)" >make.out 2>&1 || { cat make.out; exit 1; })

rc=0
for t in "${targets[@]}"; do
  bin=build-fuzz/tests/fuzz/fuzz_$t
  work=build-fuzz/corpus-$t
  mkdir -p "$work" "tests/fuzz/corpus/$t"
  log=build-fuzz/fuzz-$t.log
  set +e
  "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="build-fuzz/crash-$t-" \
    "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
  frc=$?
  set -e
  execs=$(awk '/^stat::number_of_executed_units/ {print $2}' "$log")
  crashes=$(find build-fuzz -maxdepth 1 -name "crash-$t-*" | wc -l)
  printf '%-14s %6ss  executions %-10s crashes %s\n' "$t" "$secs" \
    "${execs:-?}" "$crashes"
  if [ $frc != 0 ] || [ "$crashes" != 0 ]; then
    tail -30 "$log"
    rc=1
  fi
  # Keep only inputs that add coverage, so the replayed corpus stays small.
  "$bin" -merge=1 "tests/fuzz/corpus/$t" "$work" >/dev/null 2>&1 || true
done
exit $rc
