# Sourced by bench/e2e.sh, bench/live.sh, bench/startup.sh and bench/put.sh
# once they have set top (the project's root): installs what is missing,
# builds bench_e2e, bench_put and the mock server in the -O2 folder
# build-bench/ (no sanitizers), and loads the test harness (kefo_start_mock,
# kefo_stop_emulators, which a trap runs at exit).
bash "$top/scripts/install-deps.sh" >/dev/null
if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
   [ "$top/Makefile.am" -nt "$top/Makefile.in" ]; then
  (cd "$top" && ./autogen.sh) >/tmp/kefo-autogen.out 2>&1 ||
    { cat /tmp/kefo-autogen.out; exit 1; }
fi
mkdir -p "$top/build-bench"
(cd "$top/build-bench" &&
  { [ -f Makefile ] || CFLAGS="-O2 -g" ../configure >/dev/null; } &&
  make -j"$(nproc)" bench/bench_e2e bench/bench_put \
    tests/support/mock/kinesis-mock \
    >make.out 2>&1 || { cat make.out; exit 1; })
export KEFO_NODE_MODULES=$top/node_modules
source "$top/tests/support/harness/test_setup.sh"
source "$here/harness/mock.sh"
