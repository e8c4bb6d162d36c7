#!/bin/sh
# smtp(8)/lmtp(8) client tests: Python peers (test/smtp/peer.py), openssl for
# the test CA, and Debian's postfix package for smtp-sink. Idempotent.
set -e
need=""
command -v python3 >/dev/null 2>&1 || need="$need python3"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
[ -x /usr/sbin/smtp-sink ] || need="$need postfix"
if [ -n "$need" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq $need >/dev/null
  # The package's service is not wanted: tests start their own peers.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now postfix >/dev/null 2>&1 || true; fi
fi
