// ldap tables against slapd on 127.0.0.1:389 as set up by
// .ci/setup.d/41-dict-ldap.sh (dc=example,dc=com, entries under ou=aliases);
// skipped with a reason when the server or its test entries are absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { DictRetryError } from '../../src/global/dict/dict-api.js';
import { openDictUncached } from '../../src/global/dict/open.js';
import { escapeFilter } from '../../src/global/dict/server/ldap-dict.js';
import { tempDir } from './helpers.js';

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

test('RFC 4515 filter escaping', () => {
  assert.equal(escapeFilter('a*(b)\\c\0'), 'a\\2a\\28b\\29\\5cc\\00');
});

test('ldap table (slapd on 127.0.0.1:389)', async (t) => {
  if (!(await reachable(389))) return t.skip('slapd not reachable on 127.0.0.1:389');
  const dir = await tempDir(t);
  const cf = async (name: string, extra: string): Promise<string> => {
    const f = join(dir, name);
    await writeFile(
      f,
      [
        'server_host = ldap://127.0.0.1:1 127.0.0.1',
        'search_base = ou=aliases,dc=example,dc=com',
        'query_filter = (mail=%s)',
        'result_attribute = description',
        'bind_dn = cn=admin,dc=example,dc=com',
        'bind_pw = postern_dict',
        extra,
      ].join('\n'),
    );
    return `ldap:${f}`;
  };
  const d = await openDictUncached(await cf('plain.cf', ''));
  t.after(() => d.close());
  let first: string | undefined;
  try {
    first = await d.lookup('INFO@example.com');
  } catch (e) {
    return t.skip(`LDAP test data not available: ${(e as Error).message}`);
  }
  if (first === undefined) return t.skip('LDAP test entries missing (run .ci/setup.d/41-dict-ldap.sh)');
  assert.equal(first, 'joe@example.net');
  assert.deepEqual((await d.lookup('list@example.com'))?.split(',').sort(), ['one@example.net', 'two@example.net']);
  assert.equal(await d.lookup('nobody@example.com'), undefined);
  // A `*` in the key is a literal, not a wildcard.
  assert.equal(await d.lookup('*@example.com'), undefined);
  assert.equal(await d.lookup('st*r@example.com'), 'literal-star@example.net');

  const fmt = await openDictUncached(
    await cf('fmt.cf', 'result_format = relay:%d (%U)\ndomain = example.com\nexpansion_limit = 1'),
  );
  t.after(() => fmt.close());
  assert.equal(await fmt.lookup('info@example.com'), 'relay:example.net (info)');
  assert.equal(await fmt.lookup('info@example.org'), undefined);
  await assert.rejects(fmt.lookup('list@example.com'), DictRetryError);

  const badPw = await openDictUncached(await cf('bad.cf', 'bind_pw = wrong'));
  t.after(() => badPw.close());
  await assert.rejects(badPw.lookup('info@example.com'), DictRetryError);
});
