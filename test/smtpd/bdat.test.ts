// BDAT (RFC 3030): chunks are read by length (no dot-stuffing, so a "."
// line is content), replies per chunk, LAST commits, and the DATA/BDAT
// mixing rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, content, startSmtpd, type Harness } from './harness.js';

async function ready(h: Harness): Promise<RawClient> {
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  await c.cmd('MAIL FROM:<a@x>');
  await c.cmd('RCPT TO:<b@x>');
  return c;
}

test('chunks are stored as sent, and a lone dot is content', async () => {
  const h = await startSmtpd();
  const c = await ready(h);
  const one = 'Subject: chunked\r\n\r\n.\r\n';
  const two = 'second\npart';
  c.send(`BDAT ${one.length}\r\n${one}BDAT ${two.length} LAST\r\n${two}`);
  assert.equal(await c.reply(), `250 2.0.0 Ok: ${one.length} bytes`);
  assert.match(await c.reply(), /^250 2\.0\.0 Ok: queued as 4Q\w+$/);
  assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
  await h.close();
  const m = h.cleanup.committed()[0];
  assert.ok(m);
  const text = content(m).split('\r\n').slice(3).join('\r\n');
  assert.equal(text, 'Subject: chunked\r\n\r\n.\r\nsecond\r\npart\r\n');
  assert.ok(h.logs().includes('disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 bdat=2 quit=1 commands=6'));
});

test('BDAT 0 LAST ends the message; mixing rules', async () => {
  const h = await startSmtpd();
  const c = await ready(h);
  c.send('BDAT 5\r\nhello');
  assert.equal(await c.reply(), '250 2.0.0 Ok: 5 bytes');
  assert.equal(await c.cmd('DATA'), '503 5.5.1 Error: DATA after BDAT');
  assert.equal(await c.cmd('RCPT TO:<c@x>'), '503 5.5.1 Error: RCPT after BDAT');
  assert.equal(await c.cmd('MAIL FROM:<c@x>'), '503 5.5.1 Error: MAIL after BDAT');
  assert.match(await c.cmd('BDAT 0 LAST'), /^250 2\.0\.0 Ok: queued as /);
  await h.close();
  const m = h.cleanup.committed()[0];
  assert.ok(m && content(m).endsWith('\r\nhello\r\n'));
});

test('BDAT without recipients reads the chunk and stays in step', async () => {
  const h = await startSmtpd();
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  c.send('BDAT 6\r\nNOOP\r\n');
  assert.equal(await c.reply(), '503 5.5.1 Error: need RCPT command');
  assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
  await h.close();
});

test('a BDAT count that cannot be parsed ends the session', async () => {
  const h = await startSmtpd();
  const c = await ready(h);
  assert.equal(await c.cmd('BDAT many'), '521 5.5.4 Syntax: BDAT count [LAST]');
  assert.ok(await c.waitClosed());
  await h.close();
});

test('BDAT over message_size_limit is read, then refused at LAST', async () => {
  const h = await startSmtpd('message_size_limit = 100');
  const c = await ready(h);
  c.send(`BDAT 300 LAST\r\n${'z'.repeat(300)}`);
  assert.equal(await c.reply(), '552 5.3.4 Error: message file too big');
  assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
  await h.close();
  assert.equal(h.cleanup.committed().length, 0);
});
