// Never crash on any input: seeded random byte streams mixing SMTP verbs,
// dots, bare CR/LF, NULs, over-long lines and BDAT counts, each in its own
// session. Afterwards the same server must still run a clean dialogue.
// Bounded: a fixed number of sessions and bytes, each with a time limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startSmtpd } from './harness.js';

/** Small deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'EHLO x\r\n',
  'HELO y\n',
  'MAIL FROM:<a@x>\r\n',
  'RCPT TO:<b@x>\r\n',
  'DATA\r\n',
  'BDAT 7\r\n',
  'BDAT 3 LAST\r\n',
  'BDAT 99999999999999\r\n',
  '.\r\n',
  '\n.\n',
  '\r.\r\n',
  '..\r\n',
  'RSET\r\n',
  'NOOP\r\n',
  'VRFY <x>\r\n',
  'XCLIENT ADDR=1.2.3.4\r\n',
  'AUTH PLAIN\r\n',
  'STARTTLS\r\n',
  'MAIL FROM:<\r\n',
  'RCPT TO:<a@b> NOTIFY=\r\n',
  '\x00\x01\x02',
  '\r',
  '\n',
  '\xff\xfe',
  'x'.repeat(3000),
  'MAIL FROM:<a@x> SIZE=1 BODY=8BITMIME SMTPUTF8\r\n',
];

test('random input never crashes the server', async () => {
  const h = await startSmtpd('smtpd_hard_error_limit = 1000\nsmtpd_timeout = 2s\nsmtpd_forbid_unauth_pipelining = no');
  const rand = rng(20261126);
  for (let session = 0; session < 40; session++) {
    const c = await RawClient.connect(h.port);
    const parts: Buffer[] = [];
    const n = 5 + Math.floor(rand() * 40);
    for (let i = 0; i < n; i++) {
      if (rand() < 0.2) {
        parts.push(Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))));
      } else {
        parts.push(Buffer.from(PIECES[Math.floor(rand() * PIECES.length)] ?? '', 'latin1'));
      }
    }
    c.send(Buffer.concat(parts));
    c.send('\r\n.\r\nQUIT\r\n');
    // The server either ends the session itself or we stop waiting; both are fine.
    await c.waitClosed(300);
    c.close();
  }
  const c = await RawClient.connect(h.port);
  assert.match(await c.reply(), /^220 /);
  assert.match(await c.cmd('EHLO ok'), /^250-/);
  assert.equal(await c.cmd('MAIL FROM:<a@x>'), '250 2.1.0 Ok');
  assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
  await h.close();
  const unexpected = h
    .logs()
    .filter((l) => l.startsWith('warning:') && !/^warning: (non-SMTP command|Illegal address syntax) /.test(l));
  assert.deepEqual(unexpected, [], 'no session died of an exception');
});
