#!/bin/sh
# The one command that runs the benchmark (not CI, not npm test):
#   bench/run.sh [--rounds N] [--targets postfix,haraka,postern] [scenario ...]
# scenarios: limit ingest relay local submit sessions lookup (default: all).
# Needs root (Postfix instances, cgroups, local delivery as a user). Installs
# what it compares against when missing: Debian's postfix (which also brings
# smtp-source/smtp-sink), Haraka from npm into bench/out/haraka, and the local
# user `pbench`; builds Postern; writes bench/RESULTS.md.
# BENCH_SCALE=0.2 for a quick smoke run; BENCH_WARMUP=N messages before each measured load (default 2000); HARAKA_NODES=2 to run Haraka clustered;
# SESSIONS / SESSIONS_POSTFIX for the idle-session counts (default 10000 / 1000).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
if [ "$(id -u)" != 0 ]; then
	echo "bench/run.sh: needs root (throwaway Postfix instances, cgroups, Maildir delivery as a user)" >&2
	exit 1
fi
if [ ! -x /usr/sbin/smtp-source ] || [ ! -x /usr/sbin/postfix ]; then
	# The package's own service stays down: the harness only runs throwaway instances.
	DEBIAN_FRONTEND=noninteractive apt-get install -y postfix
fi
# perf counts each server's fsync/fdatasync calls; without it that column stays empty.
command -v perf >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y linux-perf || true
mkdir -p "$here/out/haraka"
if [ ! -x "$here/out/haraka/node_modules/.bin/haraka" ]; then
	(cd "$here/out/haraka" && { [ -f package.json ] || echo '{"name":"haraka-bench","private":true}' > package.json; } &&
		npm install --no-audit --no-fund Haraka@3.3.4)
fi
id pbench >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /var/tmp/postern-bench-home --shell /usr/sbin/nologin pbench
(cd "$root" && { [ -d node_modules ] || npm ci; } && npm run build >/dev/null)
# 10,000 idle sessions need as many descriptors in the client and in the server.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec node "$here/harness.mjs" "$@"
