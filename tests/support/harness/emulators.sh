# Starting and stopping the emulators on free loopback ports, for the demo
# and the integration tests. Source it, then:
#   kefo_start_kinesis_local   -> sets KEFO_KINESIS_PORT (h2c / HTTP/1.1)
#   kefo_start_dynalite        -> sets KEFO_DYNALITE_PORT (HTTP/1.1)
#   kefo_stop_emulators        (also run on EXIT by kefo_emulators_trap)
# Every server is started by the caller's process and always stopped.

KEFO_TOP=${KEFO_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
KEFO_EMULATOR_PIDS=()

kefo_free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Waits for the server started as process $1 to write "listening PORT" as
# the first line of its output file $2, and sets the variable named by $3
# to PORT; at most $4 rounds of 50 ms. Returns 1 when the server exits
# first or takes longer. For servers that bind port 0 themselves, so that
# no test races another for a port.
kefo_await_listening() {
  local line i
  for ((i = 0; i < $4; i++)); do
    line=$(head -n 1 "$2" 2>/dev/null || true)
    if [[ $line =~ ^listening\ ([0-9]+)$ ]]; then
      printf -v "$3" '%s' "${BASH_REMATCH[1]}"
      return 0
    fi
    if ! kill -0 "$1" 2>/dev/null; then
      return 1
    fi
    sleep 0.05
  done
  return 1
}

# Starts tests/support/harness/h2_server.js on a port it binds itself and
# sets the variable named by $1 to that port. $2: its log file; the rest:
# its arguments after the port (CERT KEY, --stream or --silent).
kefo_start_h2_server() {
  local var=$1 log=$2 pid
  shift 2
  node "$KEFO_TOP/tests/support/harness/h2_server.js" 0 "$@" >"$log" 2>&1 &
  pid=$!
  KEFO_EMULATOR_PIDS+=("$pid")
  if kefo_await_listening "$pid" "$log" "$var" 400; then
    return 0
  fi
  echo "h2_server.js did not start; its log:" >&2
  cat "$log" >&2
  return 1
}

kefo_wait_port() { # port, seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if node -e 'const c=require("net").connect('"$1"',"127.0.0.1",()=>{c.end();process.exit(0)});c.on("error",()=>process.exit(1))' 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# An emulator that is not installed skips the test (exit 77, automake's
# SKIP): `make check-integration` on a machine without them says so
# rather than failing. scripts/install-deps.sh installs both, so CI never
# skips.
kefo_need() {
  if [ ! -f "$KEFO_TOP/node_modules/$1/$2" ]; then
    echo "$1 is not installed under $KEFO_TOP/node_modules" \
      "(bash scripts/install-deps.sh): skipped" >&2
    exit 77
  fi
}

kefo_start_kinesis_local() {
  local dir=$KEFO_TOP/node_modules/kinesis-local log
  kefo_need kinesis-local main.js
  KEFO_KINESIS_PORT=$(kefo_free_port)
  KEFO_KINESIS_TLS_PORT=$(kefo_free_port)
  log=${KEFO_EMULATOR_LOG_DIR:-/tmp}/kinesis-local.$$.log
  KINESIS_MOCK_CERT_PATH=$dir/server.json \
  KINESIS_MOCK_PLAIN_PORT=$KEFO_KINESIS_PORT \
  KINESIS_MOCK_TLS_PORT=$KEFO_KINESIS_TLS_PORT \
  CREATE_STREAM_DURATION=0ms DELETE_STREAM_DURATION=0ms \
  REGISTER_STREAM_CONSUMER_DURATION=${KEFO_KL_CONSUMER_DURATION:-0ms} \
  DEREGISTER_STREAM_CONSUMER_DURATION=${KEFO_KL_CONSUMER_DURATION:-0ms} \
  START_STREAM_ENCRYPTION_DURATION=0ms STOP_STREAM_ENCRYPTION_DURATION=0ms \
  UPDATE_SHARD_COUNT_DURATION=0ms MERGE_SHARDS_DURATION=0ms \
  SPLIT_SHARD_DURATION=0ms SHARD_LIMIT=1000 LOG_LEVEL=WARN \
    node "$dir/main.js" >"$log" 2>&1 &
  KEFO_EMULATOR_PIDS+=($!)
  if ! kefo_wait_port "$KEFO_KINESIS_PORT" 30; then
    echo "kinesis-local did not start; its log:" >&2
    cat "$log" >&2
    return 1
  fi
  export KEFO_KINESIS_PORT KEFO_KINESIS_TLS_PORT
}

kefo_start_dynalite() {
  local dir=$KEFO_TOP/node_modules/dynalite log
  kefo_need dynalite cli.js
  KEFO_DYNALITE_PORT=$(kefo_free_port)
  log=${KEFO_EMULATOR_LOG_DIR:-/tmp}/dynalite.$$.log
  node "$dir/cli.js" --host 127.0.0.1 --port "$KEFO_DYNALITE_PORT" \
    --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$log" 2>&1 &
  KEFO_EMULATOR_PIDS+=($!)
  if ! kefo_wait_port "$KEFO_DYNALITE_PORT" 30; then
    echo "dynalite did not start; its log:" >&2
    cat "$log" >&2
    return 1
  fi
  export KEFO_DYNALITE_PORT
}

kefo_stop_emulators() {
  local pid i
  for pid in "${KEFO_EMULATOR_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    # kinesis-local sometimes ignores SIGTERM after serving subscriptions.
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  KEFO_EMULATOR_PIDS=()
}

kefo_emulators_trap() {
  trap 'kefo_stop_emulators' EXIT
  trap 'exit 130' INT TERM
}
