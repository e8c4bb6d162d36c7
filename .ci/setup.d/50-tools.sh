#!/bin/sh
# sendmail(1) tests: real user agents (s-nail, bsd-mailx) submit through
# Postern's sendmail. Idempotent.
set -e
need=""
[ -x /usr/bin/s-nail ] || need="$need s-nail"
[ -x /usr/bin/bsd-mailx ] || need="$need bsd-mailx"
if [ -n "$need" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
