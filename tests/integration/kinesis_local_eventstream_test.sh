#!/usr/bin/env bash
# Integration: a real SubscribeToShard response from kinesis-local, saved
# byte for byte, decoded by kefo-eventstream; the records in the decoded
# events must be exactly those written, in order.
set -euo pipefail
: "${KEFO_EVENTSTREAM:?}" "${KEFO_NODE_MODULES:?}"
here=$(cd "$(dirname "$0")/../support" && pwd)
if [ ! -f "$KEFO_NODE_MODULES/kinesis-local/main.js" ]; then
  echo "kinesis-local is not installed in $KEFO_NODE_MODULES" \
    "(run scripts/install-deps.sh)" >&2
  exit 1
fi
KEFO_TOP=$(cd "$KEFO_NODE_MODULES/.." && pwd)
tmp=$(mktemp -d)
KEFO_EMULATOR_LOG_DIR=$tmp
source "$here/harness/emulators.sh"
trap 'kefo_stop_emulators; rm -rf "$tmp"' EXIT
kefo_start_kinesis_local
node "$here/harness/capture_subscription.js" "$KEFO_KINESIS_PORT" \
  kefo-es-test 12 2.5 "$tmp/capture.bin"
"$KEFO_EVENTSTREAM" "$tmp/capture.bin" >"$tmp/decoded.jsonl"
node "$here/harness/check_records.js" "$tmp/capture.bin.expected.json" \
  <"$tmp/decoded.jsonl"
