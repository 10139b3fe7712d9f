#!/usr/bin/env bash
# tests/integration/h1_client_test starts its own servers (dynalite among them, from
# KEFO_NODE_MODULES); this wrapper gives it the .sh name the test sets
# run by (make check-integration), and skips (77) where dynalite is absent.
bin=${KEFO_H1_CLIENT_TEST:-./tests/integration/h1_client_test}
if [ ! -f "${KEFO_NODE_MODULES:?}/dynalite/cli.js" ]; then
  echo "dynalite is not installed under $KEFO_NODE_MODULES: skipped" >&2
  exit 77
fi
exec "$bin"
