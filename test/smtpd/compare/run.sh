#!/bin/bash
# Side-by-side reply check (issue 3): starts Debian's real Postfix 3.7 smtpd and
# Postern's (built: npm run build) on the same main.cf, each as a private
# instance in a temp dir on a free loopback port, runs dialogues.py against
# both and prints the differences of the normalised transcripts. Needs root
# (Postfix's master). Not part of npm test: a tool for finding differences.
# Usage: test/smtpd/compare/run.sh [extra main.cf line ...]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
base=$(mktemp -d /tmp/postern-compare-XXXXXX)
chmod 755 "$base"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

setup() { # setup DIR PORT
  local d=$1 p=$2
  mkdir -p "$d/etc" "$d/queue" "$d/data"
  chown postfix "$d/data" 2>/dev/null
  {
    echo "compatibility_level = 3.6"
    echo "queue_directory = $d/queue"
    echo "data_directory = $d/data"
    echo "inet_interfaces = 127.0.0.1"
    echo "inet_protocols = ipv4"
    echo "myhostname = mx.example.test"
    echo "mydestination = mx.example.test"
    echo "mynetworks = 127.0.0.0/8"
    echo "maillog_file_prefixes = /tmp, /var"
    echo "maillog_file = $d/maillog"
    echo "smtpd_peername_lookup = no"
    # Both look users up in the passwd file directly (no proxymap needed).
    echo "local_recipient_maps = unix:passwd.byname"
    for l in "${EXTRA[@]}"; do echo "$l"; done
  } >"$d/etc/main.cf"
  cat >"$d/etc/master.cf" <<EOM
127.0.0.1:$p inet n - n - - smtpd
cleanup unix n - n - 0 cleanup
rewrite unix - - n - - trivial-rewrite
proxymap unix - - n - - proxymap
anvil unix - - n - 1 anvil
flush unix n - n 1000? 0 flush
postlog unix-dgram n - n - 1 postlogd
EOM
}

EXTRA=("$@")
pp=$(port)
pn=$(port)
setup "$base/postfix" "$pp"
setup "$base/postern" "$pn"
/usr/sbin/postfix -c "$base/postfix/etc" start >/dev/null 2>&1
"$root/bin/postfix" -c "$base/postern/etc" start >/dev/null 2>&1
for _ in $(seq 1 50); do
  python3 -c "import socket,sys; [socket.create_connection(('127.0.0.1',p),1).close() for p in ($pp,$pn)]" 2>/dev/null && break
  sleep 0.2
done
python3 "$here/dialogues.py" "$pp" "$pn"
rc=$?
/usr/sbin/postfix -c "$base/postfix/etc" stop >/dev/null 2>&1
"$root/bin/postfix" -c "$base/postern/etc" stop >/dev/null 2>&1
sleep 1
rm -rf "$base"
exit $rc
