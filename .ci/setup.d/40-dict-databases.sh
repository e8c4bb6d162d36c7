#!/usr/bin/env bash
# Database servers for the lookup-table tests (test/dict/sql-*.test.ts etc.):
# PostgreSQL, MariaDB, Redis and memcached on loopback, each with a small test
# database (tests create and drop their own tables), and Debian's postfix-cdb
# and postfix-lmdb for the postmap -N/-n comparisons. Idempotent: safe to run again on a machine where they already run.
# Tests skip with a reason when a server is not reachable, so a failure here
# costs coverage, not a red build.
set -uo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" != 0 ]; then
  echo "dict-databases: not root, skipping server setup" >&2
  exit 0
fi

need=()
for p in postgresql mariadb-server redis-server memcached postfix-pcre postfix-cdb postfix-lmdb; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || echo "dict-databases: apt-get failed" >&2
fi

# PostgreSQL: the Debian cluster, started directly (policy-rc.d blocks init scripts).
if command -v pg_lsclusters >/dev/null; then
  ver=$(pg_lsclusters -h | awk 'NR==1{print $1}')
  if [ -n "$ver" ]; then
    pg_ctlcluster "$ver" main start >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 0.5; done
    su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='postern_dict'\"" | grep -q 1 ||
      su postgres -c "psql -qc \"CREATE ROLE postern_dict LOGIN PASSWORD 'postern_dict'\""
    su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='postern_dict'\"" | grep -q 1 ||
      su postgres -c "createdb -O postern_dict postern_dict"
  fi
fi

# MariaDB on 127.0.0.1:3306.
if command -v mysqld_safe >/dev/null || command -v mariadbd-safe >/dev/null; then
  if ! mysqladmin ping >/dev/null 2>&1; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    (mysqld_safe --bind-address=127.0.0.1 >/dev/null 2>&1 &)
    for _ in $(seq 1 60); do mysqladmin ping >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  mysql <<'SQL'
CREATE DATABASE IF NOT EXISTS postern_dict;
CREATE USER IF NOT EXISTS 'postern_dict'@'127.0.0.1' IDENTIFIED BY 'postern_dict';
CREATE USER IF NOT EXISTS 'postern_dict'@'localhost' IDENTIFIED BY 'postern_dict';
GRANT ALL ON postern_dict.* TO 'postern_dict'@'127.0.0.1';
GRANT ALL ON postern_dict.* TO 'postern_dict'@'localhost';
SQL
fi

# Redis and memcached: no data to prepare; tests write their own keys.
if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' >/dev/null
fi
if command -v memcached >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/11211) 2>/dev/null; then
  memcached -d -u memcache -l 127.0.0.1 -p 11211 || memcached -d -u nobody -l 127.0.0.1 -p 11211
fi
exit 0
