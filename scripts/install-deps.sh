#!/usr/bin/env bash
# Installs everything kefo needs on a fresh Debian 12 machine, as root.
# Idempotent: safe to run again; it skips what is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(build-essential autoconf automake libtool pkg-config
      libnghttp2-dev libssl-dev libevent-dev libcjson-dev libcunit1-dev
      zlib1g-dev clang libclang-rt-14-dev valgrind nodejs npm ca-certificates
      openssl groff-base clang-format prometheus)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
# nodejs may come from elsewhere than Debian (a newer node on PATH): accept it.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
want=()
for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done
if [ ${#want[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${want[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: run as root to install these packages" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
# Debian's prometheus starts a service on port 9090 where systemd runs:
# the tests start their own server on a free port and never use it.
if command -v systemctl >/dev/null 2>&1 &&
   systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

# The emulators the tests run against, pinned by package-lock.json.
if [ ! -f "$here/node_modules/kinesis-local/main.js" ] ||
   [ ! -f "$here/node_modules/dynalite/cli.js" ] ||
   [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  echo "install-deps: npm ci (kinesis-local, dynalite, the AWS SDK benchmark peer)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "install-deps: ok"
