// postmap -F: file-list values stored base64-encoded, decoded by -q/-s,
// malformed values reported; compared with Debian's real postmap on the same
// files (skipped when it is absent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../src/commands/postmap/main.js';
import { closeAllDicts } from '../../src/global/dict/open.js';
import { hasReal, REAL_POSTMAP, runMain, runReal, tempDir, type Captured } from '../dict/helpers.js';

test('postmap -F builds, queries and lists base64 values as the real postmap', async (t) => {
  const dir = await tempDir(t);
  t.after(closeAllDicts);
  await writeFile(join(dir, 'main.cf'), '');
  await writeFile(join(dir, 'a.pem'), 'line1\nline2\n');
  await writeFile(join(dir, 'b.pem'), 'B\n');
  const source = `example.com ${dir}/a.pem, ${dir}/b.pem\nother.com ${dir}/b.pem\nbad.com ${dir}/missing.pem\n`;
  const runs: [string, string[], string?][] = [
    ['build', ['-F', 'hash:SNI']],
    ['raw', ['-q', 'example.com', 'hash:SNI']],
    ['decoded', ['-F', '-q', 'example.com', 'hash:SNI']],
    ['stdin', ['-F', '-q', '-', 'hash:SNI'], 'other.com\nbad.com\n'],
    ['list', ['-F', '-s', 'hash:SNI']],
    ['plain', ['hash:plain']],
    ['good', ['-F', '-q', 'y', 'hash:plain']],
    ['malformed', ['-F', '-q', 'x', 'hash:plain']],
  ];
  const results = async (
    run: (args: string[], input: string) => Promise<Captured>,
    file: string,
  ): Promise<string[]> => {
    await writeFile(join(dir, file), source);
    // Each implementation builds its own copy: the two .db formats differ.
    await writeFile(join(dir, `plain-${file}`), 'x notbase64!!\ny QUJD\n');
    const out: string[] = [];
    for (const [name, args, input] of runs) {
      const r = await run(
        ['-c', dir, ...args.map((a) => a.replace('SNI', join(dir, file)).replace('plain', join(dir, `plain-${file}`)))],
        input ?? '',
      );
      out.push(`${name}: ${r.code} ${JSON.stringify(r.out)} ${JSON.stringify(r.err.replaceAll(file, 'SNI'))}`);
    }
    return out;
  };
  const ours = await results((args, input) => runMain(main, 'postmap', args, input), 'ours');
  assert.match(ours[1] ?? '', /^raw: 0 "bGluZTEKbGluZTIKCkIK\\n"/);
  assert.match(ours[2] ?? '', /^decoded: 0 "line1\\nline2\\n\\nB\\n\\n"/);
  assert.match(ours[0] ?? '', /SNI, line 3: open .*missing\.pem: No such file or directory: skipping this entry/);
  assert.match(ours[7] ?? '', /^malformed: 1 "" ".*key x: malformed BASE64 value: notbase64!!.*query error/);
  if (!hasReal(REAL_POSTMAP)) return t.skip('no /usr/sbin/postmap to compare with');
  const real = await results((args, input) => runReal(REAL_POSTMAP, args, dir, input), 'theirs');
  assert.deepEqual(ours, real);
});
