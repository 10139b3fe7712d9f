#!/usr/bin/env bash
# Starts dynalite on a free loopback port, runs tests/integration/dynamodb_test, and
# always stops it.
bin=${KEFO_DYNAMODB_TEST:-./tests/integration/dynamodb_test}
source "$(dirname "$0")/../support/harness/test_setup.sh"
kefo_start_dynalite
export DYNALITE_PORT=$KEFO_DYNALITE_PORT
"$bin"
