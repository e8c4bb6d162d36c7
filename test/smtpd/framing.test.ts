// The framing layer against SMTP smuggling and bare newlines: only
// <CR><LF>.<CR><LF> ends DATA under the default (normalize), so the
// <LF>.<LF>, <LF>.<CR><LF> and <CR>.<CR><LF> variants stay inside the one
// message; `reject` refuses bare <LF>; `no` keeps Postfix 3.7's behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, content, startSmtpd, type Harness } from './harness.js';

async function openData(h: Harness): Promise<RawClient> {
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  await c.cmd('MAIL FROM:<a@x>');
  await c.cmd('RCPT TO:<b@x>');
  assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  return c;
}

function body(h: Harness, i = 0): string {
  const m = h.cleanup.committed()[i];
  assert.ok(m, 'message committed');
  // Drop our 3-line Received: header.
  return content(m).split('\r\n').slice(3).join('\r\n');
}

const SMUGGLE_VARIANTS: [string, string][] = [
  ['<LF>.<LF>', 'Subject: one\r\n\r\ntext\n.\nMAIL FROM:<evil@x>\r\n'],
  ['<LF>.<CR><LF>', 'Subject: one\r\n\r\ntext\n.\r\nMAIL FROM:<evil@x>\r\n'],
  ['<CR>.<CR><LF>', 'Subject: one\r\n\r\ntext\r.\r\nMAIL FROM:<evil@x>\r\n'],
  ['<CR><LF>.<LF>', 'Subject: one\r\n\r\ntext\r\n.\nMAIL FROM:<evil@x>\r\n'],
];

for (const [name, payload] of SMUGGLE_VARIANTS) {
  test(`normalize: ${name} does not end DATA, so nothing is smuggled`, async () => {
    const h = await startSmtpd();
    const c = await openData(h);
    c.send(payload);
    c.send('RCPT TO:<victim@x>\r\nDATA\r\n\r\nsmuggled\r\n.\r\n');
    assert.match(await c.reply(), /^250 2\.0\.0 Ok: queued as /);
    assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
    await h.close();
    assert.equal(h.cleanup.committed().length, 1);
    const b = body(h);
    assert.ok(b.includes('MAIL FROM:<evil@x>\r\nRCPT TO:<victim@x>\r\nDATA\r\n'), JSON.stringify(b));
    assert.deepEqual(
      h.cleanup.committed()[0]?.recipients.map((r) => r.address),
      ['b@x'],
    );
  });
}

test('normalize: bare LF lines are accepted and stored with CRLF', async () => {
  const h = await startSmtpd();
  const c = await openData(h);
  c.send('Subject: x\n\nline one\nline two\r\n.\r\n');
  assert.match(await c.reply(), /^250 /);
  await h.close();
  assert.equal(body(h), 'Subject: x\r\n\r\nline one\r\nline two\r\n');
});

test('no: <LF>.<LF> ends DATA as in Postfix 3.7', async () => {
  const h = await startSmtpd('smtpd_forbid_bare_newline = no');
  const c = await openData(h);
  c.send('Subject: x\n\nbody\n.\n');
  assert.match(await c.reply(), /^250 2\.0\.0 Ok: queued as /);
  assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
  await h.close();
  assert.equal(body(h), 'Subject: x\r\n\r\nbody\r\n');
});

test('exclusions: a client in smtpd_forbid_bare_newline_exclusions keeps the old behaviour', async () => {
  const h = await startSmtpd('smtpd_forbid_bare_newline_exclusions = 127.0.0.0/8');
  const c = await openData(h);
  c.send('Subject: x\n\nbody\n.\n');
  assert.match(await c.reply(), /^250 2\.0\.0 Ok: queued as /);
  await h.close();
});

test('reject: bare LF in content is refused at end of data and the session ends', async () => {
  const h = await startSmtpd('smtpd_forbid_bare_newline = reject');
  const c = await openData(h);
  c.send('Subject: x\n\nbody\r\n.\r\n');
  assert.equal(await c.reply(), '550 5.5.2 Error: bare <LF> received');
  assert.ok(await c.waitClosed());
  await h.close();
  assert.equal(h.cleanup.committed().length, 0);
  assert.ok(
    h
      .logs()
      .some((l) =>
        /^4Q\w+: reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: 550 5\.5\.2 Error: bare <LF> received; from=<a@x> proto=ESMTP helo=<x>$/.test(
          l,
        ),
      ),
  );
});

test('reject: bare LF in a command line', async () => {
  const h = await startSmtpd('smtpd_forbid_bare_newline = reject\nsmtpd_forbid_bare_newline_reject_code = 554');
  const c = await RawClient.connect(h.port);
  await c.reply();
  c.send('EHLO x\n');
  assert.equal(await c.reply(), '554 5.5.2 Error: bare <LF> received');
  assert.ok(await c.waitClosed());
  await h.close();
});

test('over-long command lines are truncated at line_length_limit and the rest skipped', async () => {
  const h = await startSmtpd('line_length_limit = 100');
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  assert.equal(await c.cmd(`MAIL FROM:<${'a'.repeat(200)}@x>`), '501 5.1.7 Bad sender address syntax');
  assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
  await h.close();
});

test('over-long content lines pass through intact, in pieces', async () => {
  const h = await startSmtpd('line_length_limit = 100');
  const c = await openData(h);
  const long = 'x'.repeat(1000);
  c.send(`Subject: long\r\n\r\n${long}\r\n.${long}\r\n.\r\n`);
  assert.match(await c.reply(), /^250 /);
  await h.close();
  assert.equal(body(h), `Subject: long\r\n\r\n${long}\r\n${long}\r\n`);
});

test('message_size_limit at end of data', async () => {
  const h = await startSmtpd('message_size_limit = 1000');
  const c = await openData(h);
  c.send(`Subject: big\r\n\r\n${'y'.repeat(2000)}\r\n.\r\n`);
  assert.equal(await c.reply(), '552 5.3.4 Error: message file too big');
  assert.equal(await c.cmd('RSET'), '250 2.0.0 Ok');
  await h.close();
  assert.equal(h.cleanup.committed().length, 0);
  assert.equal(h.cleanup.messages[0]?.state, 'aborted');
});

test('invalid UTF-8 in a command line', async () => {
  const h = await startSmtpd();
  const c = await RawClient.connect(h.port);
  await c.reply();
  c.send(Buffer.from([0x45, 0x48, 0x4c, 0x4f, 0x20, 0xff, 0xfe, 0x0d, 0x0a]));
  assert.equal(await c.reply(), '500 5.5.2 Error: bad UTF-8 syntax');
  await h.close();
});

test('a command split across TCP segments is answered once complete', async () => {
  const h = await startSmtpd();
  const c = await RawClient.connect(h.port);
  await c.reply();
  c.send('EH');
  await new Promise((r) => setTimeout(r, 50));
  c.send('LO x\r');
  await new Promise((r) => setTimeout(r, 50));
  c.send('\n');
  assert.match(await c.reply(), /^250-mx\.example\.test\n/);
  assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
  await h.close();
});
