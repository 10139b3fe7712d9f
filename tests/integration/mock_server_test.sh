#!/usr/bin/env bash
# Starts two kinesis-mock servers on free loopback ports (h2c with SigV4
# checks, and TLS with a test CA and a preloaded stream), runs
# tests/integration/mock_server_test, always stops them, and fails if a sanitizer
# complained in a server's log.
set -euo pipefail
here=$(cd "$(dirname "$0")/../support" && pwd)
bin=${KEFO_MOCK_SERVER_TEST:-./tests/integration/mock_server_test}
tmp=$(mktemp -d)
KEFO_EMULATOR_LOG_DIR=$tmp
source "$here/harness/emulators.sh"
source "$here/harness/mock.sh"
trap 'kefo_stop_emulators; rm -rf "$tmp"' EXIT
volume=${KEFO_MOCK_VOLUME_RECORDS:-100000}
kefo_start_mock --secret kefo-test-secret-key --idle-event-ms 200
MOCK_PORT=$KEFO_MOCK_PORT
logs=("$KEFO_MOCK_LOG")
"$here/harness/make_test_ca.sh" "$tmp/ca" >/dev/null
kefo_start_mock --tls "$tmp/ca/server.pem" "$tmp/ca/server.key" \
  --preload "volume:16:$volume:100"
logs+=("$KEFO_MOCK_LOG")
export MOCK_PORT MOCK_TLS_PORT=$KEFO_MOCK_PORT MOCK_CA="$tmp/ca/ca.pem"
export MOCK_VOLUME_RECORDS=$volume
rc=0
"$bin" || rc=$?
kefo_stop_emulators
for log in "${logs[@]}"; do
  if grep -q 'Sanitizer' "$log"; then
    echo "kinesis-mock: sanitizer report in $log:" >&2
    cat "$log" >&2
    rc=1
  fi
done
exit $rc
