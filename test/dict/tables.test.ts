// Table types opened through openDict/openDictUncached: file syntax, folding,
// pattern and CIDR matching, composite tables and rebuild-on-change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DictRetryError } from '../../src/global/dict/dict-api.js';
import { closeAllDicts, DICT_TYPE_NAMES, openDict, openDictUncached } from '../../src/global/dict/open.js';
import { createTable } from '../../src/global/dict/mkmap.js';
import { logicalLines } from '../../src/global/dict/table-source.js';
import { tempDir } from './helpers.js';
import { runBin } from '../postfix/run-bin.js';

const quiet = { warn: (): void => undefined };

test('logical lines: comments, blank lines, continuation, trailing space', () => {
  const ll = logicalLines('a x\n\ty\n# c\nb x  \nc x\n\n  z\n');
  assert.deepEqual(ll, [
    { line: 1, text: 'a x\ty' },
    { line: 4, text: 'b x' },
    { line: 5, text: 'c x  z' },
  ]);
});

test('texthash folds keys, keeps the first duplicate and warns with file and line', async (t) => {
  const dir = await tempDir(t);
  const f = join(dir, 'map');
  await writeFile(f, 'Foo bar\nfoo baz\nnovalue\n');
  const warnings: string[] = [];
  const d = await openDictUncached(`texthash:${f}`, { warn: (w) => warnings.push(w) });
  assert.equal(await d.lookup('FOO'), 'bar');
  assert.equal(await d.lookup('novalue'), undefined);
  assert.deepEqual(warnings, [
    `${f}, line 2: duplicate entry: "foo"`,
    `${f}, line 3: expected format: key whitespace value -- ignoring this line`,
  ]);
});

for (const type of ['hash', 'btree', 'lmdb', 'cdb']) {
  test(`${type}: built table answers, folds, lists, and is reopened after a rebuild`, async (t) => {
    const dir = await tempDir(t);
    const f = join(dir, 'map');
    await createTable(
      type,
      f,
      [
        ['alpha', 'one'],
        ['beta', 'two words'],
      ],
      quiet,
    );
    const d = await openDict(`${type}:${f}`);
    t.after(closeAllDicts);
    assert.equal(await d.lookup('ALPHA'), 'one');
    assert.equal(await d.lookup('beta'), 'two words');
    assert.equal(await d.lookup('gamma'), undefined);
    const all: [string, string][] = [];
    for await (const e of d.sequence!()) all.push(e);
    assert.deepEqual(all.sort(), [
      ['alpha', 'one'],
      ['beta', 'two words'],
    ]);
    // Same table opened twice is the same underlying table.
    const again = await openDict(`${type}:${f}`);
    assert.equal(await again.lookup('alpha'), 'one');
    await createTable(type, f, [['alpha', 'changed']], quiet);
    // Rebuild is noticed after the check interval (1 s); poll, bounded.
    let v: string | undefined;
    for (let i = 0; i < 40; i++) {
      v = await d.lookup('alpha');
      if (v === 'changed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(v, 'changed');
    assert.equal(await d.lookup('beta'), undefined);
  });
}

test('missing indexed file is an error naming the file', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(openDictUncached(`hash:${join(dir, 'nope')}`), /open database .*nope\.db: No such file/);
});

test('inline, static, fail, environ, unix', async () => {
  const inl = await openDictUncached('inline:{ Key=value, { k2 = text with spaces } }');
  assert.equal(await inl.lookup('key'), 'value');
  assert.equal(await inl.lookup('K2'), 'text with spaces');
  await assert.rejects(openDictUncached('inline:{a}'), /missing '=' after attribute name/);
  assert.equal(await (await openDictUncached('inline:{a=1, a=2}')).lookup('a'), '2');
  assert.equal(await (await openDictUncached('static:{ a b }')).lookup('x'), 'a b');
  assert.equal(await (await openDictUncached('static:OK')).lookup('x'), 'OK');
  await assert.rejects((await openDictUncached('fail:x')).lookup('x'), DictRetryError);
  // Only $import_environment is visible, as in a Postfix program.
  process.env.TZ = 'UTC';
  const env = await openDictUncached('environ:x');
  assert.equal(await env.lookup('TZ'), 'UTC');
  assert.equal(await env.lookup('LANG'), 'C');
  assert.equal(await env.lookup('PATH'), undefined);
  await assert.rejects(openDictUncached('environ:'), /expecting "type:name" form/);
  assert.match((await (await openDictUncached('unix:passwd.byname')).lookup('root')) ?? '', /^root:[^:]*:0:0:/);
  assert.equal(await (await openDictUncached('unix:passwd.byname')).lookup('no-such-user-x'), undefined);
  assert.match((await (await openDictUncached('unix:group.byname')).lookup('root')) ?? '', /^root:[^:]*:0:/);
});

test('unionmap, pipemap, randmap, proxy', async () => {
  const u = await openDictUncached('unionmap:{inline:{a=1}, inline:{a=2, b=3}}');
  assert.equal(await u.lookup('a'), '1,2');
  assert.equal(await u.lookup('b'), '3');
  assert.equal(await u.lookup('c'), undefined);
  const p = await openDictUncached('pipemap:{inline:{a=b}, inline:{b=c}}');
  assert.equal(await p.lookup('a'), 'c');
  assert.equal(await p.lookup('b'), undefined);
  const r = await openDictUncached('randmap:{x, y, {z z}}');
  for (let i = 0; i < 20; i++) assert.ok(['x', 'y', 'z z'].includes((await r.lookup('any')) ?? ''));
  assert.equal(await (await openDictUncached('proxy:inline:{a=1}')).lookup('a'), '1');
});

test('regexp: order, negation, if/endif, substitution, flags', async (t) => {
  const dir = await tempDir(t);
  const f = join(dir, 're');
  await writeFile(
    f,
    [
      '/^(\\S+)@example\\.com$/ user=$1 ${1}!',
      'if /^x/',
      '/y$/ X-Y',
      'endif',
      '/^Case$/i wanted-exact',
      '!/@/ no-at',
      '/^[[:digit:]]+$/ digits',
      '/(a)(b)/ $3',
    ].join('\n'),
  );
  const warnings: string[] = [];
  const d = await openDictUncached(`regexp:${f}`, { warn: (w) => warnings.push(w) });
  assert.equal(await d.lookup('Joe@Example.COM'), 'user=Joe Joe!');
  assert.equal(await d.lookup('xy'), 'X-Y');
  assert.equal(await d.lookup('zy'), 'no-at');
  assert.equal(await d.lookup('a@b'), undefined);
  assert.equal(await d.lookup('case'), 'no-at');
  assert.equal(await d.lookup('Case'), 'wanted-exact');
  assert.match(warnings.join('\n'), /line 8: out of range replacement index "3": skipping this rule/);
});

test('pcre refuses nested unbounded repetition and survives hostile input', async (t) => {
  const dir = await tempDir(t);
  const f = join(dir, 'pcre');
  await writeFile(f, '/^(a+)+$/ BAD\n/^ (\\w+) \\s* = /x got $1\n');
  const warnings: string[] = [];
  const d = await openDictUncached(`pcre:${f}`, { warn: (w) => warnings.push(w) });
  assert.match(warnings.join('\n'), /line 1: nested unbounded repetition/);
  assert.equal(await d.lookup('a'.repeat(40) + '!'), undefined);
  assert.equal(await d.lookup('name = x'), 'got name');
});

test('cidr: IPv4, IPv6, negation, host bits, non-address keys', async (t) => {
  const dir = await tempDir(t);
  const f = join(dir, 'cidr');
  await writeFile(
    f,
    '192.168.0.0/16 LAN\n10.1.2.3 ONE\n2001:db8::/32 DOC6\n[::1] LOOP6\n!127.0.0.0/8 NOTLOOP\n10.0.0.1/8 BAD\n',
  );
  const warnings: string[] = [];
  const d = await openDictUncached(`cidr:${f}`, { warn: (w) => warnings.push(w) });
  assert.equal(await d.lookup('192.168.44.1'), 'LAN');
  assert.equal(await d.lookup('10.1.2.3'), 'ONE');
  assert.equal(await d.lookup('2001:DB8:1::5'), 'DOC6');
  assert.equal(await d.lookup('::1'), 'LOOP6');
  assert.equal(await d.lookup('127.0.0.1'), undefined);
  assert.equal(await d.lookup('8.8.8.8'), 'NOTLOOP');
  assert.equal(await d.lookup('not-an-address'), undefined);
  assert.match(
    warnings.join('\n'),
    /line 6: non-null host address bits in "10.0.0.1\/8", perhaps you should use "10.0.0.0\/8"/,
  );
});

test('postconf -m type list names every supported type', () => {
  for (const t of ['hash', 'btree', 'lmdb', 'cdb', 'texthash', 'regexp', 'pcre', 'cidr', 'inline', 'static']) {
    assert.ok(DICT_TYPE_NAMES.includes(t), t);
  }
  assert.deepEqual([...DICT_TYPE_NAMES], [...DICT_TYPE_NAMES].sort());
});

test('postconf -m prints exactly the types openDict accepts', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'main.cf'), '');
  const r = await runBin('postconf', ['-c', dir, '-m']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split('\n'), [...DICT_TYPE_NAMES]);
  // `internal` is listed by Postfix too; opened from outside a process it is empty.
  const d = await openDictUncached('internal:x');
  assert.equal(await d.lookup('x'), undefined);
});
