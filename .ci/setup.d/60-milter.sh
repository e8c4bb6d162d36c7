#!/bin/sh
# Milter tests (test/milter) talk to real milters: small filters written with
# Debian's python3-milter (Sendmail's libmilter underneath), and opendkim as
# a real-world signing milter (started by the test itself). Idempotent.
set -e
if ! /usr/bin/python3 -c 'import Milter' 2>/dev/null || [ ! -x /usr/sbin/opendkim ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-milter opendkim opendkim-tools
fi
