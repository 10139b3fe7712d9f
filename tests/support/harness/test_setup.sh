# Sourced by the test wrappers (tests/*_test.sh): strict mode, KEFO_TOP
# from KEFO_NODE_MODULES, a temporary folder $tmp for logs (removed at
# exit), the emulator functions, and a trap that always stops whatever
# they started. Sets $here to tests/support, the folder of harness/ and mock/
set -euo pipefail
: "${KEFO_NODE_MODULES:?}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEFO_TOP=$(cd "$KEFO_NODE_MODULES/.." && pwd)
tmp=$(mktemp -d)
KEFO_EMULATOR_LOG_DIR=$tmp
source "$here/harness/emulators.sh"
trap 'kefo_stop_emulators; rm -rf "$tmp"' EXIT
