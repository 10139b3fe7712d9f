# Starting the project's own Kinesis mock server (tests/support/mock/kinesis-mock)
# on an ephemeral loopback port, for the integration tests. Source it (it
# sources emulators.sh when that is not loaded yet), then:
#   kefo_start_mock ARGS...  -> sets KEFO_MOCK_PORT and KEFO_MOCK_LOG
# The pid joins KEFO_EMULATOR_PIDS, so kefo_stop_emulators stops it.
# KEFO_MOCK names the binary (default ./tests/support/mock/kinesis-mock, the
# build directory's).

if ! declare -F kefo_stop_emulators >/dev/null; then
  source "$(dirname "${BASH_SOURCE[0]}")/emulators.sh"
fi

kefo_start_mock() {
  local bin=${KEFO_MOCK:-./tests/support/mock/kinesis-mock} dir out pid
  dir=${KEFO_EMULATOR_LOG_DIR:-/tmp}
  out=$(mktemp "$dir/kinesis-mock.out.XXXXXX")
  KEFO_MOCK_LOG=$(mktemp "$dir/kinesis-mock.log.XXXXXX")
  # The server binds port 0 itself and prints "listening <port>" as its
  # first line, flushed in one write, so there is no race for a port.
  "$bin" --port 0 "$@" >"$out" 2>"$KEFO_MOCK_LOG" &
  pid=$!
  KEFO_EMULATOR_PIDS+=("$pid")
  # Preloading a large stream takes a few seconds (more under ASan).
  if kefo_await_listening "$pid" "$out" KEFO_MOCK_PORT 1200; then
    export KEFO_MOCK_PORT KEFO_MOCK_LOG
    return 0
  fi
  echo "kinesis-mock did not start; its log:" >&2
  cat "$KEFO_MOCK_LOG" >&2
  return 1
}
