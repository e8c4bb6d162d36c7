// Basic (non-extended) regular expressions in regexp tables: translation to
// the JavaScript engine, and clear refusals (with file and line) for what has
// no faithful translation. Agreement with Postfix's own matching is checked by
// the golden test in test/postmap/postmap.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDictUncached } from '../../src/global/dict/open.js';
import { translateBasic } from '../../src/global/dict/regexp-basic.js';
import { tempDir } from './helpers.js';

test('BRE operators become JavaScript ones; ERE operators become literals', () => {
  assert.equal(translateBasic('^a\\(b*\\)\\{2,\\}c$', 'w'), '^a(b*){2,}c$');
  assert.equal(translateBasic('a+b?(c)|{d}', 'w'), 'a\\+b\\?\\(c\\)\\|\\{d\\}');
  assert.equal(translateBasic('*a^b$c$', 'w'), '\\*a\\^b\\$c$');
  assert.equal(translateBasic('^*x', 'w'), '^\\*x');
  assert.equal(translateBasic('[\\.]', 'w'), '[\\\\.]');
  assert.equal(translateBasic('[]a]', 'w'), '[\\]a]');
  assert.equal(translateBasic('[^[:digit:]x]', 'w'), '[^0-9x]');
  assert.equal(translateBasic('\\(^a$\\)\\|^b', 'w'), '(^a$)|^b');
});

test('untranslatable BREs are refused with file and line; the table keeps its other rules', async (t) => {
  const dir = await tempDir(t);
  const f = join(dir, 're');
  await writeFile(
    f,
    ['/[[=a=]]/x EQUIV', '/\\(open/x UNMATCHED', '/a\\{x\\}/x INTERVAL', '/\\q/x ESCAPE', '/^ok\\(1\\)$/x OK:$1'].join(
      '\n',
    ),
  );
  const warnings: string[] = [];
  const d = await openDictUncached(`regexp:${f}`, { warn: (w) => warnings.push(w) });
  assert.equal(await d.lookup('ok1'), 'OK:1');
  assert.deepEqual(warnings, [
    `regexp map ${f}, line 1: [=a=] in a bracket expression cannot be translated`,
    `regexp map ${f}, line 2: unmatched \\( in regular expression`,
    `regexp map ${f}, line 3: bad \\{\\} interval in regular expression`,
    `regexp map ${f}, line 4: "\\q" in a basic regular expression cannot be translated`,
  ]);
});
