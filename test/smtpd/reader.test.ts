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
