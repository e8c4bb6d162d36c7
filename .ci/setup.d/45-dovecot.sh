#!/bin/sh
# SASL tests (test/sasl/dovecot.test.ts): Debian's dovecot-core provides a
# real Dovecot auth server. The tests start their own instance with a private
# config, a passwd-file userdb and a socket in a temp directory; the
# package's system service is not wanted. Idempotent.
set -e
if [ ! -x /usr/sbin/dovecot ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends dovecot-core >/dev/null
fi
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now dovecot >/dev/null 2>&1 || true; fi
