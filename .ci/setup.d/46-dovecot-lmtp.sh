#!/bin/sh
# lmtp(8) interop test (test/smtp/dovecot-lmtp.test.ts): Debian's
# dovecot-lmtpd adds Dovecot's LMTP server to dovecot-core (45-dovecot.sh).
# The test starts its own Dovecot instance; the system service stays off.
# Idempotent.
set -e
if [ ! -x /usr/lib/dovecot/lmtp ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends dovecot-core dovecot-lmtpd >/dev/null
fi
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now dovecot >/dev/null 2>&1 || true; fi
