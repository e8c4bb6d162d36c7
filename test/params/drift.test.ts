// Drift check: Postern's `postconf -d` against Postfix 3.7's full default list
// (../shared/postconf-d-3.7.txt, taken with Debian's master.cf). Allowed
// differences: the hardened defaults (hardened.ts) and host-computed names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HARDENED_DEFAULTS } from '../../src/global/params/hardened.js';
import { POSTERN_PARAMS } from '../../src/global/params/postern-params.js';
import { allParams } from '../../src/global/params/registry.js';
import { serviceParams } from '../../src/global/params/service-params.js';
import { parseMasterCf } from '../../src/global/mastercf/parse.js';
import { postern, projectRoot } from '../postconf/run.js';

const REFERENCE = join(projectRoot, '..', 'shared', 'postconf-d-3.7.txt');
const skip = existsSync(REFERENCE) ? false : `${REFERENCE} not present`;

/** Debian 12's stock master.cf services (name, type, command), without its commentary. */
const DEBIAN_SERVICES = `smtp inet n - y - - smtpd
pickup unix n - y 60 1 pickup
cleanup unix n - y - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - y 1000? 1 tlsmgr
rewrite unix - - y - - trivial-rewrite
bounce unix - - y - 0 bounce
defer unix - - y - 0 bounce
trace unix - - y - 0 bounce
verify unix - - y - 1 verify
flush unix n - y 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp unix - - y - - smtp
relay unix - - y - - smtp -o syslog_name=postfix/$service_name
showq unix n - y - - showq
error unix - - y - - error
retry unix - - y - - error
discard unix - - y - - discard
local unix - n n - - local
virtual unix - n n - - virtual
lmtp unix - - y - - lmtp
anvil unix - - y - 1 anvil
scache unix - - y - 1 scache
postlog unix-dgram n - n - 1 postlogd
maildrop unix - n n - - pipe flags=DRXhu user=vmail argv=/usr/bin/maildrop -d \${recipient}
uucp unix - n n - - pipe flags=Fqhu user=uucp argv=uux -r -n -z -a$sender - $nexthop!rmail ($recipient)
ifmail unix - n n - - pipe flags=F user=ftn argv=/usr/lib/ifmail/ifmail -r $nexthop ($recipient)
bsmtp unix - n n - - pipe flags=Fq. user=bsmtp argv=/usr/lib/bsmtp/bsmtp -t$nexthop -f$sender $recipient
scalemail-backend unix - n n - 2 pipe flags=R user=scalemail argv=/usr/lib/scalemail/bin/scalemail-store \${nexthop} \${user} \${extension}
mailman unix - n n - - pipe flags=FRX user=list argv=/usr/lib/mailman/bin/postfix-to-mailman.py \${nexthop} \${user}
`;

/** Computed from the machine (host-defaults.ts): compared for shape only. */
const HOST_DEPENDENT = new Set(['myhostname', 'mydomain', 'mynetworks', 'process_id']);

function parseList(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) =(?: (.*))?$/.exec(line);
    if (m?.[1]) out.set(m[1], m[2] ?? '');
  }
  return out;
}

test('registry plus master.cf-derived names are exactly the 3.7 parameter set', { skip }, () => {
  const reference = parseList(readFileSync(REFERENCE, 'utf8'));
  const ours = new Set([
    ...allParams()
      .filter((p) => p.origin !== 'postern')
      .map((p) => p.name),
    ...serviceParams(parseMasterCf(DEBIAN_SERVICES).entries).map((p) => p.name),
  ]);
  assert.deepEqual(
    [...ours].filter((n) => !reference.has(n)),
    [],
    'names Postfix 3.7 does not have',
  );
  assert.deepEqual(
    [...reference.keys()].filter((n) => !ours.has(n)),
    [],
    'names missing from Postern',
  );
});

test('postconf -d equals postconf-d-3.7.txt except hardened and host-dependent names', { skip }, async () => {
  const reference = parseList(readFileSync(REFERENCE, 'utf8'));
  const dir = await mkdtemp(join(tmpdir(), 'postern-drift-'));
  try {
    await writeFile(join(dir, 'main.cf'), '');
    await writeFile(join(dir, 'master.cf'), DEBIAN_SERVICES);
    const r = await postern(['-c', dir, '-d'], { POSTERN_INSTALL_DEFAULTS: '' });
    assert.equal(r.code, 0, r.stderr);
    const ours = parseList(r.stdout);
    // Postern's own parameters (postern-params.ts) are listed too, and only they are extra.
    const own = [...ours.keys()].filter((n) => n.startsWith('postern_'));
    assert.deepEqual(own, POSTERN_PARAMS.map((p) => p.name).sort());
    assert.equal(ours.size - own.length, reference.size);
    const hardened = new Map(HARDENED_DEFAULTS.map((h) => [h.name, h]));
    const drift: string[] = [];
    for (const [name, want] of reference) {
      const got = ours.get(name);
      const h = hardened.get(name);
      if (h) {
        assert.equal(want, h.postfix37, `${name}: hardened.ts records 3.7's default`);
        assert.equal(got, h.postern, `${name}: Postern's hardened default`);
      } else if (HOST_DEPENDENT.has(name)) {
        assert.ok(got !== undefined && (name === 'mynetworks' || got !== ''), `${name} is computed`);
      } else if (got !== want) drift.push(`${name}: ${got} != ${want}`);
    }
    assert.deepEqual(drift, []);
    assert.match(ours.get('process_id') ?? '', /^\d+$/);
    assert.match(ours.get('mynetworks') ?? '', /(^|\s)127\.0\.0\.0\/8(\s|$)/, 'subnet style at compatibility_level 0');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
