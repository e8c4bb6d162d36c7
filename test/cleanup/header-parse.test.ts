// cleanup splits the received content into logical headers and body without
// joining the pieces it was received in. Whatever the split of the content
// into pieces (at line boundaries as smtpd writes them, or anywhere), the
// result must be the one a plain line-by-line reading of the whole content
// gives: the reference below is that reading, written out simply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinedPrefix, parseContent } from '../../src/daemons/cleanup/header-parse.js';

interface Ref {
  headers: { name: string; raw: string }[];
  separator: boolean;
  body: string;
}

function reference(text: string): Ref {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const headers: { name: string; raw: string }[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const l = lines[i] ?? '';
    if (l.startsWith('\r') || l.startsWith('\n')) {
      return { headers, separator: true, body: lines.slice(i + 1).join('') };
    }
    const last = headers[headers.length - 1];
    if ((l.startsWith(' ') || l.startsWith('\t')) && last) {
      last.raw += l;
      continue;
    }
    const m = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/.exec(l.slice(0, 1000));
    if (!m) break;
    headers.push({ name: m[1] ?? '', raw: l });
  }
  return { headers, separator: false, body: lines.slice(i).join('') };
}

function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const LINES = [
  'Subject: hello\r\n',
  'From: a@example.com\r\n',
  'X-Long : value\r\n',
  ' folded continuation\r\n',
  '\tanother fold\r\n',
  '\r\n',
  '\n',
  'not a header line\r\n',
  'body text\r\n',
  ': no name\r\n',
  'Received: from x\r\n',
  ' \r\n',
  'bare-lf: yes\n',
  'X-\u00dc: latin-1 byte in the name\r\n',
  'NoColon\r\n',
  'a:\r\n',
  'b \t :x\r\n',
  `${'N'.repeat(998)}: name near the 1000-byte window\r\n`,
  `${'N'.repeat(1000)}: name past it\r\n`,
];

function pieces(text: string, rnd: () => number, anywhere: boolean): Buffer[] {
  const buf = Buffer.from(text, 'latin1');
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    const cut = anywhere ? rnd() < 0.1 : buf[i] === 0x0a && rnd() < 0.4;
    if (cut) {
      out.push(buf.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < buf.length) out.push(buf.subarray(start));
  if (rnd() < 0.2) out.splice(Math.floor(rnd() * (out.length + 1)), 0, Buffer.alloc(0));
  return out;
}

test('headers and body from pieces equal a line-by-line reading of the whole content', () => {
  const rnd = seeded(20261126);
  for (let n = 0; n < 3000; n++) {
    let text = '';
    const count = Math.floor(rnd() * 12);
    for (let k = 0; k < count; k++) text += LINES[Math.floor(rnd() * LINES.length)] ?? '';
    if (rnd() < 0.2) text += 'unterminated';
    const want = reference(text);
    const got = parseContent(pieces(text, rnd, n % 3 === 0));
    const shown = JSON.stringify(text);
    assert.deepEqual(
      got.headers.map((h) => ({ name: h.name, raw: h.raw.toString('latin1') })),
      want.headers,
      shown,
    );
    for (const h of got.headers) assert.equal(h.lname, h.name.toLowerCase());
    assert.equal(got.separator, want.separator, shown);
    assert.equal(Buffer.concat(got.body).toString('latin1'), want.body, shown);
    assert.ok(
      got.body.every((b) => b.length > 0),
      shown,
    );
  }
});

test('the body keeps the received pieces instead of a copy', () => {
  const head = Buffer.from('Received: from x\r\n');
  const rest = Buffer.from('Subject: s\r\n\r\nline 1\r\n');
  const more = Buffer.from('line 2\r\n');
  const p = parseContent([head, rest, more]);
  assert.equal(p.body.length, 2);
  assert.equal(p.body[0]?.buffer, rest.buffer);
  assert.equal(p.body[1], more);
  assert.equal(p.headers[0]?.raw.buffer, head.buffer);
});

test('joinedPrefix gives the first bytes of the pieces', () => {
  const parts = [Buffer.from('abc'), Buffer.from('defg'), Buffer.from('h')];
  assert.equal(joinedPrefix(parts, 2).toString(), 'ab');
  assert.equal(joinedPrefix(parts, 5).toString(), 'abcde');
  assert.equal(joinedPrefix(parts, 100).toString(), 'abcdefgh');
  assert.equal(joinedPrefix([], 10).length, 0);
});
