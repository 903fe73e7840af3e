#!/usr/bin/env bash
# Installs the Debian packages Cellar's engines and tests need (idempotent; needs root or sudo),
# then the npm packages. Safe to run on every start: it does nothing when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(postgresql-15 postgresql-client-15 mariadb-server mariadb-client mariadb-backup redis-server redis-sentinel memcached awscli wrk iproute2 util-linux procps openssl chromium pgbackrest)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Engines run as an unprivileged user (PostgreSQL refuses root); create it if missing.
if [ "$(id -u)" -eq 0 ] && ! id cellar >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin cellar
fi
# npm packages: reinstalled only when the lock file's content changed since the last install. A
# node_modules that is a symlink belongs to another checkout (a git worktree sharing it): leave it alone.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -L node_modules ]; then
  :
elif [ ! -d node_modules ] || [ "$(cat node_modules/.cellar-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  npm ci --no-audit --no-fund
  echo "$lock_hash" > node_modules/.cellar-lock-hash
fi
# better-sqlite3 is a native module: make sure it really built.
node -e "require('better-sqlite3')(':memory:').close()" 2>/dev/null || npm rebuild better-sqlite3
