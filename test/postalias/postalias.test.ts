// postalias(1) end to end: aliases(5) parsing, the `@` entry, warnings with
// file and line, and query answers compared with Debian's real postalias.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main, newaliases } from '../../src/commands/postalias/main.js';
import { hasReal, REAL_POSTALIAS, runMain, runReal, tempDir } from '../dict/helpers.js';

const ALIASES = [
  '# comment',
  'a: b,c ,  d',
  'x: "|/bin/cmd arg",  :include:/etc/f',
  'y:   foo\t bar  ',
  'z : q',
  '"W x": y',
  'nocolon',
  ':empty',
  'v:',
  'Root: me,',
  '  you',
  'root: other',
  '',
].join('\n');

async function setup(t: Parameters<typeof tempDir>[0]): Promise<{ dir: string; file: string }> {
  const dir = await tempDir(t);
  const file = join(dir, 'aliases');
  await writeFile(join(dir, 'main.cf'), `alias_database = hash:${file}\nalias_maps = hash:${file}, nis:mail.aliases\n`);
  await writeFile(file, ALIASES);
  return { dir, file };
}

test('postalias builds $alias_database, warns with file and line, lists with -s', async (t) => {
  const { dir, file } = await setup(t);
  let out = '';
  let err = '';
  const code = await newaliases(dir, 'postalias', {
    stdout: (x) => void (out += x),
    stderr: (x) => void (err += x),
    stdin: () => Promise.resolve(''),
  });
  const b = { code, out, err };
  assert.equal(b.code, 0);
  assert.equal(
    b.err,
    [7, 8, 9].map((n) => `postalias: warning: ${file}, line ${n}: need name:value pair\n`).join('') +
      `postalias: warning: ${file}.db: duplicate entry: "root"\n`,
  );
  const s = await runMain(main, 'postalias', ['-c', dir, '-s', `hash:${file}`]);
  assert.deepEqual(s.out.trimEnd().split('\n').sort(), [
    '@:\t@',
    'a:\tb, c, d',
    'root:\tme, you',
    'w x:\ty',
    'x:\t"|/bin/cmd arg", :include:/etc/f',
    'y:\tfoo bar',
    'z:\tq',
  ]);
  const q = await runMain(main, 'postalias', ['-c', dir, '-q', 'ROOT', file]);
  assert.deepEqual([q.code, q.out], [0, 'me, you\n']);
  assert.equal((await runMain(main, 'postalias', ['-c', dir, '-q', 'none', file])).code, 1);
  const usage = await runMain(main, 'postalias', ['-c', dir, '-q', 'root']);
  assert.equal(usage.code, 1);
  assert.match(usage.err, /^postalias: fatal: usage: postalias /);
  assert.equal((await runMain(main, 'postalias', ['-c', dir, '-i', file], 'New:  a,b\n')).code, 0);
  assert.equal((await runMain(main, 'postalias', ['-c', dir, '-q', 'new', file])).out, 'a, b\n');
  assert.equal((await runMain(main, 'postalias', ['-c', dir, '-d', 'root', file])).code, 0);
  assert.equal((await runMain(main, 'postalias', ['-c', dir, '-q', 'root', file])).code, 1);
});

test(
  'golden: postalias -q answers match the real postalias',
  { skip: !hasReal(REAL_POSTALIAS) && 'no /usr/sbin/postalias' },
  async (t) => {
    const { dir, file } = await setup(t);
    // Each implementation builds its own file: Debian's is Berkeley DB.
    const realFile = join(dir, 'real-aliases');
    await writeFile(realFile, ALIASES);
    const realBuild = await runReal(REAL_POSTALIAS, ['-c', dir, `hash:${realFile}`], dir);
    assert.equal(realBuild.code, 0, realBuild.err);
    const ours = await runMain(main, 'postalias', ['-c', dir, `lmdb:${file}`]);
    assert.equal(ours.code, 0);
    assert.equal(
      ours.err.replaceAll(`${file}.lmdb`, 'DB').replaceAll(file, 'SRC'),
      realBuild.err.replaceAll(`${realFile}.db`, 'DB').replaceAll(realFile, 'SRC'),
    );
    for (const key of ['a', 'X', 'y', 'z', 'w x', 'root', '@', 'nocolon', 'v', 'missing']) {
      const mine = await runMain(main, 'postalias', ['-c', dir, '-q', key, `lmdb:${file}`]);
      const real = await runReal(REAL_POSTALIAS, ['-c', dir, '-q', key, `hash:${realFile}`], dir);
      assert.deepEqual([mine.code, mine.out], [real.code, real.out], `key ${key}`);
    }
  },
);
