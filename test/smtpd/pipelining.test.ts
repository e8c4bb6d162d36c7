// RFC 2920 pipelining: replies to a pipelined group come back together and
// in order; commands sent where the client must wait (before the greeting,
// after EHLO or DATA) are logged and, with smtpd_forbid_unauth_pipelining
// (Postern's default), end the session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, eventually, startSmtpd } from './harness.js';

test('a pipelined MAIL/RCPT/RCPT/DATA group gets its replies in order', async () => {
  const h = await startSmtpd();
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  c.send('MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<>\r\nRCPT TO:<c@x>\r\nDATA\r\n');
  assert.equal(await c.reply(), '250 2.1.0 Ok');
  assert.equal(await c.reply(), '250 2.1.5 Ok');
  assert.equal(await c.reply(), '501 5.1.3 Bad recipient address syntax');
  assert.equal(await c.reply(), '250 2.1.5 Ok');
  assert.equal(await c.reply(), '354 End data with <CR><LF>.<CR><LF>');
  c.send('x\r\n.\r\nQUIT\r\n');
  assert.match(await c.reply(), /^250 2\.0\.0 Ok: queued as /);
  assert.equal(await c.reply(), '221 2.0.0 Bye');
  await h.close();
  assert.deepEqual(
    h.cleanup.committed()[0]?.recipients.map((r) => r.address),
    ['b@x', 'c@x'],
  );
});

test('content sent with DATA before 354 ends the session', async () => {
  const h = await startSmtpd();
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  await c.cmd('MAIL FROM:<a@x>');
  await c.cmd('RCPT TO:<b@x>');
  c.send('DATA\r\nSubject: early\r\n\r\nbody\r\n.\r\n');
  assert.equal(await c.reply(), '554 5.5.0 Error: SMTP protocol synchronization');
  assert.ok(await c.waitClosed());
  await h.close();
  assert.equal(h.cleanup.committed().length, 0);
  assert.ok(
    h
      .logs()
      .includes(
        'improper command pipelining after DATA from localhost[127.0.0.1]: Subject: early\\r\\n\\r\\nbody\\r\\n.\\r\\n',
      ),
    h.logs().join('\n'),
  );
  assert.ok(h.logs().includes('disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4'));
});

test('commands pipelined after EHLO end the session', async () => {
  const h = await startSmtpd();
  const c = await RawClient.connect(h.port);
  await c.reply();
  c.send('EHLO x\r\nMAIL FROM:<a@x>\r\n');
  assert.equal(await c.reply(), '554 5.5.0 Error: SMTP protocol synchronization');
  assert.ok(await c.waitClosed());
  await h.close();
  assert.ok(
    h.logs().includes('improper command pipelining after EHLO from localhost[127.0.0.1]: MAIL FROM:<a@x>\\r\\n'),
  );
});

test('talking before the greeting ends the session', async () => {
  // A slow reverse lookup leaves time for the client to talk first.
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const h = await startSmtpd('', {
    resolver: {
      reverse: async () => {
        await gate;
        return [];
      },
      forward: () => Promise.resolve([]),
    },
  });
  const c = await RawClient.connect(h.port);
  c.send('EHLO early\r\n');
  await new Promise((r) => setTimeout(r, 100));
  release();
  assert.equal(await c.reply(), '554 5.5.0 Error: SMTP protocol synchronization');
  assert.ok(await c.waitClosed());
  await h.close();
  assert.ok(h.logs().includes('improper command pipelining after CONNECT from unknown[127.0.0.1]: EHLO early\\r\\n'));
});

test('with smtpd_forbid_unauth_pipelining = no the violation is only logged', async () => {
  const h = await startSmtpd('smtpd_forbid_unauth_pipelining = no');
  const c = await RawClient.connect(h.port);
  await c.reply();
  c.send('EHLO x\r\nMAIL FROM:<a@x>\r\n');
  assert.match(await c.reply(), /^250-mx\.example\.test/);
  assert.equal(await c.reply(), '250 2.1.0 Ok');
  assert.equal(await c.cmd('RCPT TO:<b@x>'), '250 2.1.5 Ok');
  await h.close();
  assert.ok(await eventually(() => h.logs().some((l) => l.startsWith('improper command pipelining after EHLO'))));
  // The policy sees the fact, for reject_unauth_pipelining.
  const rcpt = h.policy.calls.find((call) => call.stage === 'rcpt');
  assert.equal(rcpt?.facts.pipelinedEarly, true);
});

test('a HELO client that pipelines without PIPELINING being offered is disconnected', async () => {
  const h = await startSmtpd();
  const c = await RawClient.connect(h.port);
  await c.reply();
  assert.equal(await c.cmd('HELO old.example'), '250 mx.example.test');
  c.send('MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n');
  assert.equal(await c.reply(), '554 5.5.0 Error: SMTP protocol synchronization');
  assert.ok(await c.waitClosed());
  await h.close();
  assert.ok(h.logs().includes('improper command pipelining after MAIL from localhost[127.0.0.1]: RCPT TO:<b@x>\\r\\n'));
});
