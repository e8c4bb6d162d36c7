#!/bin/sh
# Milter tests (test/milter) talk to real milters written with Debian's
# python3-milter (Sendmail's libmilter underneath). Idempotent.
set -e
if ! /usr/bin/python3 -c 'import Milter' 2>/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y python3-milter
fi
