// postmap/postalias -N and -n: whether keys and values carry the C null
// byte, checked against Debian's real postmap (same exit codes for every
// build/query flag pair; byte-identical cdb files; each reads the other's
// cdb), and a Berkeley DB file from Postfix refused cleanly instead of
// crashing LMDB. Real-tool parts are skipped with a reason when missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../src/commands/postmap/main.js';
import { main as postalias } from '../../src/commands/postalias/main.js';
import { nullModeFromFlags } from '../../src/global/dict/null-byte.js';
import { closeAllDicts } from '../../src/global/dict/open.js';
import { hasReal, REAL_POSTMAP, runMain, runReal, tempDir } from '../dict/helpers.js';

function realTypes(): string[] {
  try {
    return execFileSync('/usr/sbin/postconf', ['-m'], { encoding: 'utf8' }).split('\n');
  } catch {
    return [];
  }
}
const types = hasReal(REAL_POSTMAP) ? realTypes() : [];
const SOURCE = 'abc defvalue\nUser@Example.COM other value\n';
const FLAGS = ['', '-N', '-n'];
const argv = (flag: string, ...rest: string[]): string[] => (flag ? [flag, ...rest] : rest);

test('-N and -n: the later one wins, option arguments are not options', () => {
  const f = new Set(['N', 'n']);
  assert.equal(nullModeFromFlags(new Set(), []), 'both');
  assert.equal(nullModeFromFlags(f, ['-Nn', 'x']), 'without');
  assert.equal(nullModeFromFlags(f, ['-n', '-N', 'x']), 'with');
  assert.equal(nullModeFromFlags(new Set(['N']), ['-qNn', '-N', 'x']), 'with');
  assert.equal(nullModeFromFlags(new Set(), ['-q', '-N', 'x']), 'both');
  assert.equal(nullModeFromFlags(f, ['-c', '/etc/postfix', '-n', '-q', '-N', 'x']), 'without');
});

for (const type of ['hash', 'lmdb', 'cdb']) {
  test(`${type}: build and query flag pairs find keys as Postfix's postmap does`, async (t) => {
    const dir = await tempDir(t);
    t.after(closeAllDicts);
    await writeFile(join(dir, 'main.cf'), '');
    // Postfix (Linux): hash, btree and lmdb store the NUL by default, cdb does not.
    const expectFound: Record<string, boolean> = {};
    for (const b of FLAGS) {
      for (const q of FLAGS) {
        const stored = b === '-N' || (b === '' && type !== 'cdb');
        expectFound[`${b}/${q}`] = q === '' || (q === '-N') === stored;
      }
    }
    for (const b of FLAGS) {
      const map = join(dir, `m${b}`);
      await writeFile(map, SOURCE);
      const built = await runMain(main, 'postmap', ['-c', dir, ...argv(b, `${type}:${map}`)]);
      assert.equal(built.code, 0, built.err);
      for (const q of FLAGS) {
        const r = await runMain(main, 'postmap', ['-c', dir, ...argv(q, '-q', 'USER@example.com', `${type}:${map}`)]);
        const want = expectFound[`${b}/${q}`];
        assert.deepEqual([r.code, r.out], want ? [0, 'other value\n'] : [1, ''], `built ${b || 'default'}, query ${q}`);
      }
      // Listing shows keys and values without the NUL whichever way they were stored.
      const s = await runMain(main, 'postmap', ['-c', dir, '-s', `${type}:${map}`]);
      assert.deepEqual(s.out.split('\n').sort(), ['', 'abc\tdefvalue', 'user@example.com\tother value']);
    }
    // The same matrix through Debian's postmap on its own files.
    if (!hasReal(REAL_POSTMAP) || (type !== 'hash' && !types.includes(type))) {
      return t.skip(`real postmap lacks ${type} (apt-get install postfix-${type})`);
    }
    for (const b of FLAGS) {
      const map = join(dir, `real${b}`);
      await writeFile(map, SOURCE);
      assert.equal((await runReal(REAL_POSTMAP, ['-c', dir, ...argv(b, `${type}:${map}`)], dir)).code, 0);
      for (const q of FLAGS) {
        const r = await runReal(REAL_POSTMAP, ['-c', dir, ...argv(q, '-q', 'USER@example.com', `${type}:${map}`)], dir);
        assert.equal(r.code === 0, expectFound[`${b}/${q}`], `real: built ${b || 'default'}, query ${q}`);
      }
    }
  });
}

test('cdb files are byte-identical to Postfix postmap output and readable both ways', async (t) => {
  if (!hasReal(REAL_POSTMAP) || !types.includes('cdb')) {
    return t.skip('real postmap lacks cdb (apt-get install postfix-cdb)');
  }
  const dir = await tempDir(t);
  await writeFile(join(dir, 'main.cf'), '');
  for (const b of FLAGS) {
    const ours = join(dir, `ours${b}`);
    const theirs = join(dir, `theirs${b}`);
    await writeFile(ours, SOURCE);
    await writeFile(theirs, SOURCE);
    assert.equal((await runMain(main, 'postmap', ['-c', dir, ...argv(b, `cdb:${ours}`)])).code, 0);
    assert.equal((await runReal(REAL_POSTMAP, ['-c', dir, ...argv(b, `cdb:${theirs}`)], dir)).code, 0);
    assert.ok((await readFile(`${ours}.cdb`)).equals(await readFile(`${theirs}.cdb`)), `cdb ${b || 'default'}`);
    const q = ['-q', 'abc'];
    const real = await runReal(REAL_POSTMAP, ['-c', dir, ...argv(b, ...q, `cdb:${ours}`)], dir);
    assert.deepEqual([real.code, real.out], [0, 'defvalue\n']);
    const mine = await runMain(main, 'postmap', ['-c', dir, ...q, `cdb:${theirs}`]);
    assert.deepEqual([mine.code, mine.out], [0, 'defvalue\n']);
  }
});

test("a Berkeley DB file from Postfix's postmap is refused with a clear error, then rebuilt", async (t) => {
  if (!hasReal(REAL_POSTMAP)) return t.skip('no /usr/sbin/postmap');
  const dir = await tempDir(t);
  t.after(closeAllDicts);
  await writeFile(join(dir, 'main.cf'), '');
  const map = join(dir, 'map');
  await writeFile(map, SOURCE);
  assert.equal((await runReal(REAL_POSTMAP, ['-c', dir, `hash:${map}`], dir)).code, 0);
  await copyFile(`${map}.db`, `${map}.keep`);
  const q = await runMain(main, 'postmap', ['-c', dir, '-q', 'abc', `hash:${map}`]);
  assert.equal(q.code, 1);
  assert.match(q.err, /open database .*map\.db: Berkeley DB hash file, not a Postern table/);
  const i = await runMain(main, 'postmap', ['-c', dir, '-i', `hash:${map}`], 'k v\n');
  assert.match(i.err, /Berkeley DB hash file/);
  // A full rebuild replaces the foreign file.
  assert.equal((await runMain(main, 'postmap', ['-c', dir, `hash:${map}`])).code, 0);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-q', 'abc', `hash:${map}`])).out, 'defvalue\n');
  // Postfix's LMDB files use LMDB's data format 1, which the lmdb package cannot read.
  if (types.includes('lmdb')) {
    assert.equal((await runReal(REAL_POSTMAP, ['-c', dir, `lmdb:${map}`], dir)).code, 0);
    const l = await runMain(main, 'postmap', ['-c', dir, '-q', 'abc', `lmdb:${map}`]);
    assert.equal(l.code, 1);
    assert.match(l.err, /map\.lmdb: LMDB data format 1 file \(as Postfix's postmap writes\), not a Postern table/);
  }
});

test('postmap -i, -d and postalias honour -N/-n', async (t) => {
  const dir = await tempDir(t);
  t.after(closeAllDicts);
  await writeFile(join(dir, 'main.cf'), '');
  const map = join(dir, 'map');
  await writeFile(map, SOURCE);
  await runMain(main, 'postmap', ['-c', dir, '-n', `hash:${map}`]);
  await runMain(main, 'postmap', ['-c', dir, '-i', `hash:${map}`], 'added yes\n');
  // -i without -n stores the NUL (Postfix's platform default), beside -n keys.
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-N', '-q', 'added', `hash:${map}`])).code, 0);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-N', '-q', 'abc', `hash:${map}`])).code, 1);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-N', '-d', 'abc', `hash:${map}`])).code, 1);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-d', 'abc', `hash:${map}`])).code, 0);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-q', 'abc', `hash:${map}`])).code, 1);

  const aliases = join(dir, 'aliases');
  await writeFile(aliases, 'postmaster: root\n');
  assert.equal((await runMain(postalias, 'postalias', ['-c', dir, '-n', `hash:${aliases}`])).code, 0);
  const n = await runMain(postalias, 'postalias', ['-c', dir, '-n', '-q', '@', `hash:${aliases}`]);
  assert.deepEqual([n.code, n.out], [0, '@\n']);
  assert.equal(
    (await runMain(postalias, 'postalias', ['-c', dir, '-N', '-q', 'postmaster', `hash:${aliases}`])).code,
    1,
  );
  assert.equal(
    (await runMain(postalias, 'postalias', ['-c', dir, '-q', 'postmaster', `hash:${aliases}`])).out,
    'root\n',
  );
});
