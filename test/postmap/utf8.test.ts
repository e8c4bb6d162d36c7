// postmap -u and smtputf8_enable: Unicode case folding and skipping of
// non-UTF-8 source lines in UTF-8 mode, ASCII-only folding without it,
// compared with Debian's real postmap (skipped when it is absent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../src/commands/postmap/main.js';
import { foldKey } from '../../src/global/dict/utf8-mode.js';
import { closeAllDicts } from '../../src/global/dict/open.js';
import { hasReal, REAL_POSTMAP, runMain, runReal, tempDir } from '../dict/helpers.js';

test('foldKey: Unicode in UTF-8 mode, ASCII letters only otherwise', () => {
  assert.equal(foldKey('ÄBc@Ünï', true), 'äbc@ünï');
  assert.equal(foldKey('ÄBc@Ünï', false), 'Äbc@Ünï');
});

const CASES: { name: string; mainCf: string; flags: string[]; source: Buffer; keys: string[] }[] = [
  {
    name: 'UTF-8 mode (smtputf8_enable = yes)',
    mainCf: 'compatibility_level = 3.6\n',
    flags: [],
    source: Buffer.concat([
      Buffer.from('ÄBc upper-umlaut\nplain v\n'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('key badkey\nbadval '),
      Buffer.from([0xff, 0xfe, 0x0a]),
      Buffer.from('Ünï later\n'),
    ]),
    keys: ['ÄBC', 'äbc', 'ÄBc', 'plain', 'badval', 'ünï', 'ÜNÏ'],
  },
  {
    name: '-u',
    mainCf: 'compatibility_level = 3.6\n',
    flags: ['-u'],
    source: Buffer.from('ÄBc upper-umlaut\nplain v\nÜnï later\n'),
    keys: ['ÄBC', 'äbc', 'Äbc', 'ÄBc', 'plain', 'ünï', 'Ünï'],
  },
  {
    name: 'smtputf8_enable = no',
    mainCf: 'compatibility_level = 3.6\nsmtputf8_enable = no\n',
    flags: [],
    source: Buffer.from('ÄBc upper-umlaut\nplain v\n'),
    keys: ['ÄBC', 'äbc', 'Äbc', 'plain'],
  },
];

for (const c of CASES) {
  test(`postmap ${c.name}: same build warnings and answers as the real postmap`, async (t) => {
    const dir = await tempDir(t);
    t.after(closeAllDicts);
    await writeFile(join(dir, 'main.cf'), c.mainCf);
    await writeFile(join(dir, 'ours'), c.source);
    await writeFile(join(dir, 'theirs'), c.source);
    const prev = process.cwd();
    process.chdir(dir);
    try {
      const built = await runMain(main, 'postmap', ['-c', dir, ...c.flags, 'hash:ours']);
      assert.equal(built.code, 0, built.err);
      if (c.flags.length === 0 && c.mainCf.includes('3.6\n') && !c.mainCf.includes('smtputf8')) {
        assert.match(built.err, /ours, line 3: non-UTF-8 input "\?\?key badkey" -- ignoring this line/);
      }
      const answers: string[] = [];
      for (const key of c.keys) {
        const r = await runMain(main, 'postmap', ['-c', dir, ...c.flags, '-q', key, 'hash:ours']);
        answers.push(`${key}=${r.code === 0 ? r.out.trim() : '-'}`);
      }
      if (!hasReal(REAL_POSTMAP)) return t.skip('no /usr/sbin/postmap to compare with');
      const real = await runReal(REAL_POSTMAP, ['-c', dir, ...c.flags, 'hash:theirs'], dir);
      assert.equal(built.err.replaceAll('ours', 'theirs'), real.err);
      const realAnswers: string[] = [];
      for (const key of c.keys) {
        const r = await runReal(REAL_POSTMAP, ['-c', dir, ...c.flags, '-q', key, 'hash:theirs'], dir);
        realAnswers.push(`${key}=${r.code === 0 ? r.out.trim() : '-'}`);
      }
      assert.deepEqual(answers, realAnswers);
      // texthash reads the source at open time with the same rules.
      for (const key of c.keys) {
        const o = await runMain(main, 'postmap', ['-c', dir, ...c.flags, '-q', key, 'texthash:ours']);
        const r = await runReal(REAL_POSTMAP, ['-c', dir, ...c.flags, '-q', key, 'texthash:theirs'], dir);
        assert.deepEqual(
          [o.code, o.out, o.err.replaceAll('ours', 'theirs')],
          [r.code, r.out, r.err],
          `texthash ${key}`,
        );
      }
    } finally {
      process.chdir(prev);
    }
  });
}
