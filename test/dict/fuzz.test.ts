// Hostile table text must produce warnings or TableSyntaxError, never a crash
// or a hang: a bounded random fuzz over every table parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAliases } from '../../src/global/dict/alias-source.js';
import { parseCidrTable, lookupCidr } from '../../src/global/dict/cidr-table.js';
import { openDictUncached } from '../../src/global/dict/open.js';
import { lookupRules, parseRegexpTable } from '../../src/global/dict/regexp-table.js';
import { parseKeyValueTable, TableSyntaxError } from '../../src/global/dict/table-source.js';

const ALPHABET = [
  '/',
  '!',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '*',
  '+',
  '?',
  '\\',
  '$',
  '1',
  ':',
  '"',
  ',',
  '=',
  ' ',
  '\t',
  '\n',
  'a',
  'if ',
  'endif',
  '.',
  '0',
  '/8',
  '::',
  '#',
  '|',
];

// Deterministic generator so a failure can be reproduced.
function* samples(count: number): Generator<string> {
  let seed = 12345;
  const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < count; i++) {
    let s = '';
    const len = next() % 80;
    for (let j = 0; j < len; j++) s += ALPHABET[next() % ALPHABET.length];
    yield s;
  }
}

test('table parsers survive random input', async () => {
  const warn = (): void => undefined;
  for (const text of samples(3000)) {
    parseKeyValueTable(text, 'f', { warn });
    parseAliases(text, 'f', { warn });
    lookupCidr(parseCidrTable(text, 'f', warn), '10.0.0.1');
    for (const kind of ['regexp', 'pcre'] as const) {
      lookupRules(parseRegexpTable(kind, text, 'f', warn), text);
    }
    for (const type of ['inline', 'static', 'unionmap', 'randmap']) {
      try {
        await openDictUncached(`${type}:${text}`);
      } catch (e) {
        assert.ok(
          e instanceof TableSyntaxError || (e as Error).name === 'DictOpenError',
          `${type}:${text}: ${String(e)}`,
        );
      }
    }
  }
});

test('oversized subjects are matched on a bounded prefix', () => {
  const rules = parseRegexpTable('pcre', '/^Subject:.*spam/ REJECT\n', 'f', () => undefined);
  assert.equal(lookupRules(rules, `Subject: spam${' '.repeat(1_000_000)}`), 'REJECT');
});
