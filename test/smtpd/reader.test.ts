// The framing layer on its own: however TCP splits the bytes (CR and LF in
// different segments, a "." alone in a segment), the reader finds the same
// lines, the same End-of-DATA and leaves the same bytes for the next
// command. Seeded random splits, bounded in count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { SmtpReader, type BareNewlineMode } from '../../src/util/smtp-reader.js';
import { ContentLineSplitter } from '../../src/util/content-lines.js';

function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Feed `input` in random chunks; read DATA then one command line. */
async function readDataThenCommand(
  input: Buffer,
  mode: BareNewlineMode,
  rand: () => number,
  /** Write every chunk before the reader looks (many chunks queued at once), instead of one per turn. */
  burst = false,
): Promise<{ body: string; next: string }> {
  const stream = new PassThrough();
  const reader = new SmtpReader(stream, 1 << 20, () => Promise.resolve());
  let off = 0;
  const feed = (): void => {
    if (off >= input.length) return;
    const n = 1 + Math.floor(rand() * (burst ? 90 : 7));
    stream.write(input.subarray(off, off + n));
    off += n;
    if (burst) feed();
    else setImmediate(feed);
  };
  feed();
  const parts: Buffer[] = [];
  await reader.readData(mode, true, 64, (b) => parts.push(b));
  const next = await reader.readCommand(64);
  stream.destroy();
  return { body: Buffer.concat(parts).toString('latin1'), next: next.bytes.toString('latin1') };
}

const CASES: { input: string; mode: BareNewlineMode; body: string; next: string }[] = [
  { input: 'a\r\n..b\r\n.\r\nQUIT\r\n', mode: 'normalize', body: 'a\r\n.b\r\n', next: 'QUIT' },
  // A lone dot that is not a proper terminator is content, unstuffed like any dot line.
  { input: 'a\n.\nb\r\n.\r\nNOOP\r\n', mode: 'normalize', body: 'a\r\n\r\nb\r\n', next: 'NOOP' },
  { input: 'a\r.\r\nb\r\n.\r\nNOOP\r\n', mode: 'normalize', body: 'a\r.\r\nb\r\n', next: 'NOOP' },
  { input: 'a\n.\r\nb\r\n.\r\nNOOP\r\n', mode: 'normalize', body: 'a\r\n\r\nb\r\n', next: 'NOOP' },
  { input: 'a\n.\nNOOP\r\n', mode: 'no', body: 'a\r\n', next: 'NOOP' },
  { input: `${'x'.repeat(200)}\r\n.\r\nRSET\r\n`, mode: 'normalize', body: `${'x'.repeat(200)}\r\n`, next: 'RSET' },
];

test('End-of-DATA does not depend on how the bytes were split', async () => {
  const rand = rng(7);
  for (const c of CASES) {
    for (let round = 0; round < 25; round++) {
      const r = await readDataThenCommand(Buffer.from(c.input, 'latin1'), c.mode, rand);
      assert.equal(r.body, c.body, JSON.stringify(c.input));
      assert.equal(r.next, c.next, JSON.stringify(c.input));
    }
  }
});

/**
 * DATA's meaning written out line by line on the whole input: the End-of-DATA
 * rule, dot-unstuffing and bare <LF> made CRLF. The reader hands out runs of
 * ordinary lines as one slice; it must agree with this for any input.
 */
function referenceData(input: string, mode: BareNewlineMode): { body: string; rest: string } {
  let body = '';
  let prevCrlf = true;
  let pos = 0;
  for (;;) {
    const lf = input.indexOf('\n', pos);
    assert.ok(lf >= 0, 'test input must contain its End-of-DATA');
    let line = input.slice(pos, lf);
    pos = lf + 1;
    const crlf = line.endsWith('\r');
    if (crlf) line = line.slice(0, -1);
    if (line === '.' && (mode === 'no' || (prevCrlf && crlf))) return { body, rest: input.slice(pos) };
    if (line.startsWith('.')) line = line.slice(1);
    body += `${line}\r\n`;
    prevCrlf = crlf;
  }
}

test('DATA content matches the line-by-line rules for random input and random splits', async () => {
  const rand = rng(11);
  const pieces = ['a', 'bc', '.', '..', '\r', '\n', '\r\n', '\r\n.', '\n.', 'x'.repeat(70), '\r\n\r\n'];
  for (let round = 0; round < 300; round++) {
    let text = '';
    const n = 1 + Math.floor(rand() * 40);
    for (let i = 0; i < n; i++) text += pieces[Math.floor(rand() * pieces.length)] ?? '';
    const mode: BareNewlineMode = rand() < 0.5 ? 'normalize' : 'no';
    const input = `${text}\r\n.\r\nNOOP\r\n`;
    const want = referenceData(input, mode);
    const got = await readDataThenCommand(Buffer.from(input, 'latin1'), mode, rand, round % 2 === 1);
    assert.equal(got.body, want.body, JSON.stringify({ input, mode }));
    // The command after the content (text may hold a terminator of its own); long ones are cut at 64.
    const next = want.rest.slice(0, want.rest.indexOf('\n')).replace(/\r$/, '');
    if (next.length <= 64) assert.equal(got.next, next, JSON.stringify({ input, mode }));
  }
});

test('over-long command lines are truncated and the remainder skipped', async () => {
  const stream = new PassThrough();
  const reader = new SmtpReader(stream, 1 << 20, () => Promise.resolve());
  stream.write(`${'A'.repeat(300)}\r\nNOOP\r\n`);
  assert.equal((await reader.readCommand(100)).bytes.toString(), 'A'.repeat(100));
  assert.equal((await reader.readCommand(100)).bytes.toString(), 'NOOP');
  stream.destroy();
});

test('BDAT line splitter: CRLF split across chunks, bare LF, unterminated last line', () => {
  const out: string[] = [];
  const s = new ContentLineSplitter(1000, (b) => out.push(b.toString()));
  s.push(Buffer.from('one\r'));
  s.push(Buffer.from('\ntwo\nthr'));
  s.push(Buffer.from('ee'));
  s.finish();
  assert.deepEqual(out, ['one\r\n', 'two\r\n', 'three\r\n']);
  assert.equal(s.bareLf, true);
  assert.equal(s.bytes, 17);
});

/** The splitter's rules line by line, as it applied them before runs were passed on whole. */
function referenceSplit(chunks: readonly Buffer[], limit: number): { out: Buffer; bareLf: boolean } {
  const parts: Buffer[] = [];
  let bareLf = false;
  let carry = Buffer.alloc(0);
  for (const chunk of chunks) {
    let data = Buffer.concat([carry, chunk]);
    for (;;) {
      const lf = data.indexOf(0x0a);
      if (lf < 0) break;
      const crlf = lf > 0 && data[lf - 1] === 0x0d;
      if (!crlf) bareLf = true;
      parts.push(data.subarray(0, crlf ? lf - 1 : lf), Buffer.from('\r\n'));
      data = data.subarray(lf + 1);
    }
    while (data.length > limit) {
      let n = limit;
      if (data[n - 1] === 0x0d) n--;
      parts.push(data.subarray(0, n));
      data = data.subarray(n);
    }
    carry = Buffer.from(data);
  }
  if (carry.length > 0) parts.push(carry, Buffer.from('\r\n'));
  return { out: Buffer.concat(parts), bareLf };
}

test('BDAT line splitter matches the line-by-line rules for random input and random chunks', () => {
  const rand = rng(20261126);
  const alphabet = ['a', 'b', '\r', '\n', '\r\n', '\r\n', '.', 'xxxxxxxxxxxx'];
  for (let round = 0; round < 400; round++) {
    let text = '';
    const len = Math.floor(rand() * 120);
    for (let i = 0; i < len; i++) text += alphabet[Math.floor(rand() * alphabet.length)] as string;
    const input = Buffer.from(text, 'latin1');
    const chunks: Buffer[] = [];
    for (let off = 0; off < input.length;) {
      const n = 1 + Math.floor(rand() * 30);
      chunks.push(input.subarray(off, off + n));
      off += n;
    }
    const limit = 4 + Math.floor(rand() * 30);
    const got: Buffer[] = [];
    const s = new ContentLineSplitter(limit, (b) => got.push(b));
    for (const c of chunks) s.push(c);
    s.finish();
    const want = referenceSplit(chunks, limit);
    const joined = Buffer.concat(got);
    assert.equal(joined.toString('latin1'), want.out.toString('latin1'), JSON.stringify({ text, limit }));
    assert.equal(s.bareLf, want.bareLf, JSON.stringify({ text, limit }));
    assert.equal(s.bytes, joined.length);
  }
});

test('BDAT line splitter passes a run of CRLF lines on as one slice of the chunk', () => {
  const got: Buffer[] = [];
  const s = new ContentLineSplitter(1000, (b) => got.push(b));
  const chunk = Buffer.from('one\r\ntwo\r\nthree\r\nfour\nfive\r\nsix\r\n');
  s.push(chunk);
  s.finish();
  assert.deepEqual(
    got.map((b) => b.toString()),
    ['one\r\ntwo\r\nthree\r\n', 'four\r\n', 'five\r\nsix\r\n'],
  );
  // Views of the received chunk, not copies (the cleanup transaction keeps them as given).
  assert.equal(got[0]?.buffer, chunk.buffer);
  assert.equal(got[2]?.buffer, chunk.buffer);
});
