#!/usr/bin/env bash
# Starts the servers tests/integration/h2_client_test needs on free loopback ports (a
# Node HTTP/2 server in h2c and TLS, with certificates from a throwaway
# test CA, and kinesis-local), runs it, and always stops them.
bin=${KEFO_H2_TEST:-./tests/integration/h2_client_test}
source "$(dirname "$0")/../support/harness/test_setup.sh"
bash "$here/harness/make_test_ca.sh" "$tmp/a" localhost
NO_IP=1 bash "$here/harness/make_test_ca.sh" "$tmp/b" otherhost
start_node() { # port args...
  node "$here/harness/h2_server.js" "$@" >"$tmp/h2-$1.log" 2>&1 &
  KEFO_EMULATOR_PIDS+=($!)
  kefo_wait_port "$1" 20
}
H2_PLAIN_PORT=$(kefo_free_port)
H2_TLS_PORT=$(kefo_free_port)
H2_TLS_MISMATCH_PORT=$(kefo_free_port)
CLOSED_PORT=$(kefo_free_port)
H2_SILENT_PORT=$(kefo_free_port)
start_node "$H2_SILENT_PORT" --silent
start_node "$H2_PLAIN_PORT"
start_node "$H2_TLS_PORT" "$tmp/a/server.pem" "$tmp/a/server.key"
start_node "$H2_TLS_MISMATCH_PORT" "$tmp/b/server.pem" "$tmp/b/server.key"
kefo_start_kinesis_local
export H2_PLAIN_PORT H2_TLS_PORT H2_TLS_MISMATCH_PORT CLOSED_PORT H2_SILENT_PORT
export KINESIS_PORT=$KEFO_KINESIS_PORT TLS_DIR=$tmp
"$bin"
