#!/usr/bin/env bash
# The library as an application meets it (issue 24): `make install` into a
# staging folder, the layout an include of <kefo/kefo.h> needs, the
# exported symbols against tests/support/exports.txt, then each program of
# examples/ built from the installed header and pkg-config alone (shared
# and static, -Wall -Wextra -Werror) and run against kinesis-local, its
# output checked.
: "${KEFO_BUILDDIR:?}" "${KEFO_SRCDIR:?}"
source "$(dirname "$0")/../support/harness/test_setup.sh"
set +e
pass=0
fail=0
ok() {
  pass=$((pass + 1))
  echo "ok   $*"
}
bad() {
  fail=$((fail + 1))
  echo "FAIL $*"
}

dest=$tmp/stage
if ! make -C "$KEFO_BUILDDIR" install DESTDIR="$dest" >"$tmp/install.log" 2>&1; then
  bad "make install DESTDIR=$dest"
  tail -n 20 "$tmp/install.log"
  echo "install_test: $pass passed, $((fail + 1)) failed"
  exit 1
fi
pc=$(find "$dest" -name libkefo.pc | head -n 1)
prefix=$(dirname "$(dirname "$(dirname "$pc")")") # .../lib/pkgconfig/libkefo.pc
libdir=$(dirname "$(dirname "$pc")")
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$dest
(cd "$prefix" && find include lib bin share -type f | sort) >"$tmp/layout"
if grep -qx include/kefo/kefo.h "$tmp/layout" &&
   grep -qx include/kefo/kefover.h "$tmp/layout" &&
   ! grep -q '^include/include' "$tmp/layout" &&
   grep -qx lib/pkgconfig/libkefo.pc "$tmp/layout" &&
   grep -q '^lib/libkefo.so' "$tmp/layout" && grep -qx lib/libkefo.a "$tmp/layout" &&
   grep -qx bin/kefo-reader "$tmp/layout" &&
   grep -qx share/man/man1/kefo-reader.1 "$tmp/layout" &&
   grep -qx share/man/man1/kefo-eventstream.1 "$tmp/layout"; then
  ok "installed: $(grep -c . "$tmp/layout") files: $(grep -E '^include|\.pc$' "$tmp/layout" | tr '\n' ' ')"
else
  bad "install layout:"
  cat "$tmp/layout"
fi

# Exactly the committed exports: a new one is a deliberate change.
nm -D --defined-only "$libdir/libkefo.so" | awk '{ print $3 }' | sort \
  >"$tmp/exports"
if diff -u "$KEFO_SRCDIR/tests/support/exports.txt" "$tmp/exports" >"$tmp/exports.diff" &&
   ! grep -v '^kefo_' "$tmp/exports" >>"$tmp/exports.diff"; then
  ok "exports: $(wc -l <"$tmp/exports") symbols, all kefo_, as tests/support/exports.txt"
else
  bad "exports differ from tests/support/exports.txt (a new export is a deliberate change to that list):"
  cat "$tmp/exports.diff"
fi

# The examples, from the installed header and pkg-config only. A
# sanitizer build of the library needs the sanitizer runtime in the
# program too.
cflags="$(pkg-config --cflags libkefo) -Wall -Wextra -Werror ${KEFO_SANFLAGS:-}"
shared_libs=$(pkg-config --libs libkefo)
static_libs=$(pkg-config --static --libs libkefo | sed 's/-lkefo\b/-l:libkefo.a/')
export LD_LIBRARY_PATH=$libdir
# kefo-reader is an application of the library like the examples.
# ldd's output is kept before grep reads it: with pipefail, grep -q
# leaving early would fail the pipe on ldd's SIGPIPE.
ldd "$prefix/bin/kefo-reader" >"$tmp/ldd.reader" 2>&1
if grep -q "$libdir/libkefo.so" "$tmp/ldd.reader"; then
  ok "the installed kefo-reader links the installed libkefo.so"
else
  bad "the installed kefo-reader does not link libkefo.so:"
  ldd "$prefix/bin/kefo-reader"
fi
built=0
for ex in read_stream self_managed own_loop checkpoint_after_work write_stream; do
  if cc $cflags -o "$tmp/$ex" "$KEFO_SRCDIR/examples/$ex.c" $shared_libs \
       2>"$tmp/$ex.cc" &&
     cc $cflags -o "$tmp/$ex-static" "$KEFO_SRCDIR/examples/$ex.c" $static_libs \
       2>>"$tmp/$ex.cc"; then
    built=$((built + 1))
  else
    bad "examples/$ex.c does not build against the install:"
    cat "$tmp/$ex.cc"
  fi
done
ldd "$tmp/read_stream-static" >"$tmp/ldd.static" 2>&1
ldd "$tmp/read_stream" >"$tmp/ldd.shared" 2>&1
if [ $built = 5 ] && ! grep -q libkefo "$tmp/ldd.static" &&
   grep -q "$libdir/libkefo.so" "$tmp/ldd.shared"; then
  ok "5 examples built shared ($shared_libs) and static (libkefo.a, $(ldd "$tmp/read_stream-static" | grep -c '=>') shared dependencies, none kefo)"
else
  bad "the static build links libkefo.so, or the shared one does not"
  ldd "$tmp/read_stream-static" "$tmp/read_stream"
fi

kefo_start_kinesis_local
port=$KEFO_KINESIS_PORT
export AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:$port AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=AKIDKEFOTEST AWS_SECRET_ACCESS_KEY=kefo-test-secret
kl() { node "$here/harness/kl_call.js" "$port" "$@"; }
json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log($1))"; }
kl CreateStream '{"StreamName":"ex","ShardCount":2}' >/dev/null
sleep 0.5
"$prefix/bin/kefo-put" --stream ex --count 50 --size 20 --quiet ||
  bad "the installed kefo-put could not write"
sarn=$(kl DescribeStreamSummary '{"StreamName":"ex"}' |
  json 'JSON.parse(s).StreamDescriptionSummary.StreamARN')
consumers() {
  kl ListStreamConsumers "{\"StreamARN\":\"$sarn\"}" |
    json 'JSON.parse(s).Consumers.map(c=>c.ConsumerName).join(" ")'
}
distinct() { awk '{ print $1, $2 }' "$@" | sort -u | wc -l; }
# read_until PROGRAM STREAM OUT LINES TENTHS: PROGRAM (a read_stream
# build) until OUT has LINES lines or TENTHS tenths of a second pass, then
# SIGINT; its exit status in $rc.
read_until() {
  local pid i
  "$tmp/$1" "$2" >"$3" 2>"${3%.out}.err" &
  pid=$!
  for i in $(seq "$5"); do
    [ "$(wc -l <"$3")" -ge "$4" ] && break
    sleep 0.1
  done
  kill -INT $pid
  wait $pid
  rc=$?
}

# read_stream: kefo's own loop, stopped by SIGINT, consumer deregistered.
for v in read_stream read_stream-static; do
  read_until "$v" ex "$tmp/rs.out" 50 200
  n=$(wc -l <"$tmp/rs.out")
  left=$(consumers)
  if [ $rc = 0 ] && [ "$n" = 50 ] && [ "$(distinct "$tmp/rs.out")" = 50 ] &&
     [ -z "$left" ]; then
    ok "$v: 50 records, SIGINT: exit 0, consumers left: none"
  else
    bad "$v: exit $rc, $n records, consumers left: '$left'"
    tail -n 3 "$tmp/rs.err"
  fi
done

# self_managed: a consumer registered by hand, then polling.
carn=$(kl RegisterStreamConsumer \
  "{\"StreamARN\":\"$sarn\",\"ConsumerName\":\"mine\"}" |
  json 'JSON.parse(s).Consumer.ConsumerARN')
sleep 0.5
for mode in efo --polling; do
  timeout 30 "$tmp/self_managed" "$sarn" "$carn" 3 \
    $([ $mode = --polling ] && echo --polling) >"$tmp/sm.out" 2>"$tmp/sm.err"
  rc=$?
  n=$(wc -l <"$tmp/sm.out")
  if [ $rc = 0 ] && [ "$n" = 50 ] && [ "$(consumers)" = mine ]; then
    ok "self_managed ($mode): 50 records in 3 s, exit 0, the consumer 'mine' left as it was"
  else
    bad "self_managed ($mode): exit $rc, $n records, consumers '$(consumers)'"
    tail -n 3 "$tmp/sm.err"
  fi
done

# own_loop: the application's loop and timer, a pause and a resume.
timeout 30 "$tmp/own_loop" ex 6 >"$tmp/ol.out" 2>"$tmp/ol.err"
rc=$?
sum=$(awk '$1 ~ /^shardId/ && $2 ~ /^[0-9]+$/ { s += $2 } END { print s + 0 }' "$tmp/ol.out")
if [ $rc = 0 ] && [ "$sum" = 50 ] && grep -q '^shardId-[0-9]* paused$' "$tmp/ol.out" &&
   grep -q '^shardId-[0-9]* resumed$' "$tmp/ol.out" &&
   grep -qx 'records while paused: 0' "$tmp/ol.out"; then
  ok "own_loop: exit 0, $sum records, $(grep -c 'paused$\|resumed$' "$tmp/ol.out") pause/resume events, none handed on while paused"
else
  bad "own_loop: exit $rc, $sum records:"
  cat "$tmp/ol.out"
  tail -n 3 "$tmp/ol.err"
fi

# checkpoint_after_work: 20, then 20 more from the file, then the rest.
: >"$tmp/cw.all"
runs=""
for run in checkpoint_after_work:20 checkpoint_after_work-static:20 \
  checkpoint_after_work:10; do
  timeout 30 "$tmp/${run%:*}" ex "$tmp/cw.ckpt" "${run#*:}" >"$tmp/cw.out" \
    2>"$tmp/cw.err"
  rc=$?
  runs="$runs $(wc -l <"$tmp/cw.out")/exit $rc"
  cat "$tmp/cw.out" >>"$tmp/cw.all"
done
n=$(wc -l <"$tmp/cw.all")
if [ "$runs" = " 20/exit 0 20/exit 0 10/exit 0" ] && [ "$n" = 50 ] &&
   [ "$(distinct "$tmp/cw.all")" = 50 ]; then
  ok "checkpoint_after_work x3 on one file:$runs: $n records, each once"
else
  bad "checkpoint_after_work x3:$runs, $n lines, $(distinct "$tmp/cw.all") distinct"
  tail -n 3 "$tmp/cw.err"
fi

# write_stream: the producer on the application's loop, a buffer of 64
# records (so put says would-block), a checkpoint every 100 records, each
# reported only once every record before it is done; then read back by
# read_stream: the same records, where the producer said they went.
kl CreateStream '{"StreamName":"wr","ShardCount":2}' >/dev/null
kl CreateStream '{"StreamName":"wr2","ShardCount":1}' >/dev/null
sleep 0.5
timeout 60 "$tmp/write_stream" wr 500 100 >"$tmp/ws.out" 2>"$tmp/ws.err"
rc=$?
n=$(wc -l <"$tmp/ws.out")
# "checkpoint K: the first N records done (A acknowledged, F failed so far)"
cps=$(awk '/^checkpoint/ { gsub(/[(),]/, ""); n++
  if ($5 + 0 != 100 * n || $8 + $10 < $5) bad = 1 }
  END { print bad ? "bad" : n + 0 }' "$tmp/ws.err")
wb=$(sed -n 's/.*would-block \([0-9]*\) times$/\1/p' "$tmp/ws.err")
if [ $rc = 0 ] && [ "$n" = 500 ] && [ "$(sort -u "$tmp/ws.out" | wc -l)" = 500 ] &&
   [ "$cps" = 5 ] && [ "${wb:-0}" -gt 0 ]; then
  ok "write_stream: 500 records acknowledged, exit 0, 5 checkpoints each after every record before it, would-block $wb times"
else
  bad "write_stream: exit $rc, $n acknowledged, checkpoints '$cps', would-block '${wb:-}'"
  tail -n 8 "$tmp/ws.err"
fi
read_until read_stream wr "$tmp/wr.out" 500 300
if [ $rc = 0 ] && sort "$tmp/ws.out" | diff -q - <(sort "$tmp/wr.out") >/dev/null; then
  ok "write_stream read back by read_stream: the same $(wc -l <"$tmp/wr.out") records, shards and sequence numbers"
else
  bad "write_stream's acknowledgements and read_stream's records differ:"
  sort "$tmp/ws.out" | diff - <(sort "$tmp/wr.out") | head -n 10
fi
timeout 60 "$tmp/write_stream-static" wr2 200 50 >"$tmp/ws2.out" 2>"$tmp/ws2.err"
rc=$?
if [ $rc = 0 ] && [ "$(wc -l <"$tmp/ws2.out")" = 200 ] &&
   [ "$(grep -c '^checkpoint' "$tmp/ws2.err")" = 4 ]; then
  ok "write_stream-static: 200 records acknowledged, 4 checkpoints, exit 0"
else
  bad "write_stream-static: exit $rc, $(wc -l <"$tmp/ws2.out") acknowledged"
  tail -n 5 "$tmp/ws2.err"
fi

echo "install_test: $pass passed, $fail failed"
[ "$fail" = 0 ]
