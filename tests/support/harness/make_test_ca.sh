#!/usr/bin/env bash
# Makes a throwaway test CA and a server certificate it signed, for the TLS
# tests' local servers. Usage: make_test_ca.sh DIR [HOSTNAME]
# Writes DIR/ca.pem, DIR/server.pem (certificate), DIR/server.key, valid for
# HOSTNAME (default localhost) and 127.0.0.1 (not with NO_IP=1 in the
# environment); and DIR/other-ca.pem, a second CA that signed nothing (for
# "untrusted" tests).
set -euo pipefail
dir=$1
host=${2:-localhost}
mkdir -p "$dir"
cd "$dir"
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
  -subj "/CN=kefo test CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
ossl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem \
  -days 2 -subj "/CN=kefo other CA" -addext "basicConstraints=critical,CA:TRUE"
ossl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
  -subj "/CN=$host"
san="DNS:$host"
[ "${NO_IP:-0}" = 1 ] || san="$san,IP:127.0.0.1"
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
  "$san" >server.ext
ossl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out server.pem -days 2 -extfile server.ext
rm -f server.csr server.ext ca.srl
