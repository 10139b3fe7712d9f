#!/usr/bin/env bash
# Starts the fake STS, IMDS and container endpoints
# (tests/support/harness/fake_aws_servers.js, loopback only, ports picked by the
# OS), runs tests/integration/credentials_servers_test against them, and always stops
# them.
set -euo pipefail
here=$(cd "$(dirname "$0")/../support" && pwd)
bin=${KEFO_CREDENTIALS_SERVERS_TEST:-./tests/integration/credentials_servers_test}
tmp=$(mktemp -d)
pid=
stop() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 130' INT TERM

# stdin from a FIFO held open by this shell: node also exits when we do.
mkfifo "$tmp/stdin"
node "$here/harness/fake_aws_servers.js" "$tmp/ports.json" \
  <"$tmp/stdin" >"$tmp/servers.log" 2>&1 &
pid=$!
exec 3>"$tmp/stdin"
for ((i = 0; i < 100; i++)); do
  [ -s "$tmp/ports.json" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "fake_aws_servers.js exited; its log:" >&2
    cat "$tmp/servers.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -s "$tmp/ports.json" ]; then
  echo "fake_aws_servers.js did not start; its log:" >&2
  cat "$tmp/servers.log" >&2
  exit 1
fi
ports=$(cat "$tmp/ports.json")
port_of() {
  node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' \
    "$ports" "$1"
}
KEFO_FAKE_STS_PORT=$(port_of sts)
KEFO_FAKE_IMDS_PORT=$(port_of imds)
KEFO_FAKE_CONTAINER_PORT=$(port_of container)
export KEFO_FAKE_STS_PORT KEFO_FAKE_IMDS_PORT KEFO_FAKE_CONTAINER_PORT
KEFO_TEST_TMP=$tmp "$bin"
