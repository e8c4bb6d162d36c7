// The RFC 5322 tokenizer behind header address rewriting and
// header_address_token_limit, against a plain character-by-character
// reference on random header values (quotes, comments, literals, escapes,
// specials, folding, non-ASCII), and the limit cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenize, tokenLimitCut, type Token } from '../../src/global/addr/header-tokens.js';

function reference(value: string, limit: number): Token[] {
  const specials = '()<>@,;:\\".[]';
  const out: Token[] = [];
  let i = 0;
  while (i < value.length && out.length < limit) {
    const c = value[i] ?? '';
    if (' \t\r\n'.includes(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === '"' || c === '(' || c === '[') {
      const close = c === '"' ? '"' : c === '(' ? ')' : ']';
      let depth = 1;
      i++;
      while (i < value.length && depth > 0) {
        const d = value[i];
        if (d === '\\') i++;
        else if (c === '(' && d === '(') depth++;
        else if (d === close) depth--;
        i++;
      }
      i = Math.min(i, value.length);
      out.push({
        type: c === '"' ? 'qstring' : c === '(' ? 'comment' : 'domlit',
        text: value.slice(start, i),
        start,
        end: i,
      });
    } else if (specials.includes(c)) {
      i++;
      out.push({ type: 'op', text: c, start, end: i });
    } else {
      while (i < value.length && !specials.includes(value[i] ?? '') && !' \t\r\n'.includes(value[i] ?? '')) i++;
      out.push({ type: 'atom', text: value.slice(start, i), start, end: i });
    }
  }
  return out;
}

const ALPHABET = [
  'a',
  'B',
  '1',
  '.',
  '@',
  '<',
  '>',
  ',',
  ';',
  ':',
  '"',
  '\\',
  '(',
  ')',
  '[',
  ']',
  ' ',
  '\t',
  '\r\n ',
  'é',
  '日',
  '-',
  '+',
];

test('tokens of random header values match the character-by-character reading', () => {
  let x = 0x2545f491;
  const rnd = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
  for (let n = 0; n < 5000; n++) {
    let v = '';
    const len = Math.floor(rnd() * 40);
    for (let k = 0; k < len; k++) v += ALPHABET[Math.floor(rnd() * ALPHABET.length)] ?? '';
    const limit = rnd() < 0.3 ? Math.floor(rnd() * 6) + 1 : 1000;
    assert.deepEqual(tokenize(v, limit), reference(v, limit), JSON.stringify(v));
  }
});

test('a typical address header and the token limit cut', () => {
  const v = ' "Doe, J." <j.doe@example.com> (work), x@y';
  assert.deepEqual(
    tokenize(v, 100).map((t) => `${t.type}:${t.text}`),
    [
      'qstring:"Doe, J."',
      'op:<',
      'atom:j',
      'op:.',
      'atom:doe',
      'op:@',
      'atom:example',
      'op:.',
      'atom:com',
      'op:>',
      'comment:(work)',
      'op:,',
      'atom:x',
      'op:@',
      'atom:y',
    ],
  );
  assert.equal(tokenLimitCut(v, 100), undefined);
  assert.equal(v.slice(0, tokenLimitCut(v, 2)), ' "Doe, J." <');
});
