#!/bin/sh
# local(8)/virtual(8)/pipe(8) tests deliver as real users: create them (no
# password, no login shell needed beyond /bin/sh for commands). Idempotent;
# the tests also create missing users themselves when run as root.
set -e
[ "$(id -u)" = 0 ] || exit 0
for u in pstlocal1 pstlocal2 pstlocal3 pstvirt1 pstpipe1; do
  if ! getent passwd "$u" >/dev/null; then
    useradd -m -s /bin/sh "$u"
  fi
done
getent group mail >/dev/null || groupadd -r mail
