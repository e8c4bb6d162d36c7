// ldap tables following member DNs (special_result_attribute) with leaf,
// terminal and recursion_limit semantics, against slapd as set up by
// .ci/setup.d/41-dict-ldap.sh, and compared with Debian's postmap when
// postfix-ldap is installed. Skipped with a reason when slapd is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { main } from '../../src/commands/postmap/main.js';
import { hasReal, REAL_POSTMAP, runMain, runReal, tempDir } from './helpers.js';

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

function realHasLdap(): boolean {
  try {
    return hasReal(REAL_POSTMAP) && execFileSync('/usr/sbin/postconf', ['-m'], { encoding: 'utf8' }).includes('ldap');
  } catch {
    return false;
  }
}

const BASE = [
  'server_host = 127.0.0.1',
  'search_base = ou=aliases,dc=example,dc=com',
  'query_filter = (mail=%s)',
  'result_attribute = description',
  'special_result_attribute = member',
  'leaf_result_attribute = mail',
  'bind_dn = cn=admin,dc=example,dc=com',
  'bind_pw = postern_dict',
];

const CASES: { cf: string; extra: string[]; key: string; want: string | undefined; fails?: RegExp }[] = [
  {
    cf: 'terminal',
    extra: ['terminal_result_attribute = title'],
    key: 'group@example.com',
    want: [
      'group-owner@example.net', // the group's own result attribute; its mail is not a leaf's
      'info@example.com,joe@example.net',
      'list@example.com,one@example.net,two@example.net',
      'st*r@example.com,literal-star@example.net', // through the nested group sub
      'terminal-only@example.net', // term has a terminal attribute: nothing else of it
    ].join(','),
  },
  {
    cf: 'terminal',
    extra: ['terminal_result_attribute = title'],
    key: 'term@example.com',
    want: 'terminal-only@example.net',
  },
  {
    cf: 'plain',
    extra: [],
    key: 'sub@example.com',
    want: 'st*r@example.com,literal-star@example.net,term@example.com,not-returned@example.net',
  },
  { cf: 'plain', extra: [], key: 'info@example.com', want: 'info@example.com,joe@example.net' },
  {
    cf: 'limit',
    extra: ['recursion_limit = 5'],
    key: 'loop@example.com',
    want: undefined,
    fails: /Recursion limit exceeded at depth 5 for special attribute member=cn=loop2,ou=aliases,dc=example,dc=com/,
  },
  {
    cf: 'expansion',
    extra: ['expansion_limit = 3'],
    key: 'group@example.com',
    want: undefined,
    fails: /Expansion limit exceeded/,
  },
];

test('ldap special/leaf/terminal result attributes and recursion_limit', async (t) => {
  if (!(await reachable(389))) return t.skip('slapd not reachable on 127.0.0.1:389');
  const dir = await tempDir(t);
  await writeFile(join(dir, 'main.cf'), '');
  const probe = await runMain(main, 'postmap', ['-c', dir, '-q', 'group@example.com', `ldap:${await cf('plain', [])}`]);
  if (probe.code !== 0) return t.skip(`LDAP group entries missing (run .ci/setup.d/41-dict-ldap.sh): ${probe.err}`);
  const compare = realHasLdap();
  for (const c of CASES) {
    const spec = `ldap:${await cf(c.cf, c.extra)}`;
    const ours = await runMain(main, 'postmap', ['-c', dir, '-q', c.key, spec]);
    if (c.fails) {
      assert.equal(ours.code, 1, `${c.cf} ${c.key}`);
      assert.match(ours.err, c.fails);
    } else {
      assert.deepEqual([ours.code, ours.out], [0, `${c.want}\n`], `${c.cf} ${c.key}`);
    }
    if (compare) {
      const real = await runReal(REAL_POSTMAP, ['-c', dir, '-q', c.key, spec], dir);
      assert.deepEqual([ours.code, ours.out], [real.code, real.out], `real postmap: ${c.cf} ${c.key}`);
    }
  }
  // A member DN without an entry is skipped with a warning, as Postfix does.
  const sub = await runMain(main, 'postmap', ['-c', dir, '-q', 'sub@example.com', `ldap:${await cf('plain', [])}`]);
  assert.match(sub.err, /DN cn=gone,ou=aliases,dc=example,dc=com not found, skipping/);
  if (!compare) t.diagnostic('Debian postfix-ldap not installed: no comparison with the real postmap');

  async function cf(name: string, extra: string[]): Promise<string> {
    const f = join(dir, `${name}.cf`);
    await writeFile(f, [...BASE, ...extra].join('\n') + '\n');
    return f;
  }
});
