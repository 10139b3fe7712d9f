#!/usr/bin/env bash
# Starts the servers tests/integration/h2_client_test needs on loopback ports they bind (a
# Node HTTP/2 server in h2c and TLS, with certificates from a throwaway
# test CA, and kinesis-local), runs it, and always stops them.
bin=${KEFO_H2_TEST:-./tests/integration/h2_client_test}
source "$(dirname "$0")/../support/harness/test_setup.sh"
bash "$here/harness/make_test_ca.sh" "$tmp/a" localhost
NO_IP=1 bash "$here/harness/make_test_ca.sh" "$tmp/b" otherhost
# Each server binds its own port (CI met a server that lost a port picked
# beforehand to another test's server, 2026-12-06); only the port that must
# be closed is picked, and it is never listened on.
kefo_start_h2_server H2_SILENT_PORT "$tmp/h2-silent.log" --silent || exit 1
kefo_start_h2_server H2_PLAIN_PORT "$tmp/h2-plain.log" || exit 1
kefo_start_h2_server H2_TLS_PORT "$tmp/h2-tls.log" \
  "$tmp/a/server.pem" "$tmp/a/server.key" || exit 1
kefo_start_h2_server H2_TLS_MISMATCH_PORT "$tmp/h2-mismatch.log" \
  "$tmp/b/server.pem" "$tmp/b/server.key" || exit 1
CLOSED_PORT=$(kefo_free_port)
kefo_start_kinesis_local
export H2_PLAIN_PORT H2_TLS_PORT H2_TLS_MISMATCH_PORT CLOSED_PORT H2_SILENT_PORT
export KINESIS_PORT=$KEFO_KINESIS_PORT TLS_DIR=$tmp
"$bin"
