// smtpd's anvil-backed limits and XCLIENT/XFORWARD, over real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, eventually, startSmtpd } from './harness.js';

test('smtpd_client_connection_count_limit', async () => {
  const h = await startSmtpd('smtpd_client_connection_count_limit = 2');
  const a = await RawClient.connect(h.port);
  assert.match(await a.reply(), /^220 /);
  const b = await RawClient.connect(h.port);
  assert.match(await b.reply(), /^220 /);
  const c = await RawClient.connect(h.port);
  assert.equal(await c.reply(), '421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1');
  assert.ok(await c.waitClosed());
  assert.equal(await a.cmd('QUIT'), '221 2.0.0 Bye');
  await a.waitClosed();
  // The slot is freed once the session has ended.
  assert.ok(await eventually(() => h.logs().filter((l) => l.startsWith('disconnect')).length === 2));
  const d = await RawClient.connect(h.port);
  assert.match(await d.reply(), /^220 /);
  await h.close();
  assert.ok(
    h.logs().includes('warning: Connection concurrency limit exceeded: 3 from localhost[127.0.0.1] for service smtp'),
  );
});

test('connection, message and recipient rate limits; exceptions', async () => {
  const h = await startSmtpd(
    'smtpd_client_connection_rate_limit = 1\nsmtpd_client_message_rate_limit = 1\nsmtpd_client_recipient_rate_limit = 2',
  );
  const a = await RawClient.connect(h.port);
  assert.match(await a.reply(), /^220 /);
  const b = await RawClient.connect(h.port);
  assert.equal(await b.reply(), '421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1');
  await a.cmd('EHLO x');
  assert.equal(await a.cmd('MAIL FROM:<a@x>'), '250 2.1.0 Ok');
  assert.equal(await a.cmd('RCPT TO:<1@x>'), '250 2.1.5 Ok');
  assert.equal(await a.cmd('RCPT TO:<2@x>'), '250 2.1.5 Ok');
  assert.equal(await a.cmd('RCPT TO:<3@x>'), '450 4.7.1 Error: too many recipients from 127.0.0.1');
  assert.equal(await a.cmd('RSET'), '250 2.0.0 Ok');
  assert.equal(await a.cmd('MAIL FROM:<a@x>'), '450 4.7.1 Error: too much mail from 127.0.0.1');
  await h.close();
  const logs = h.logs();
  assert.ok(logs.includes('warning: Connection rate limit exceeded: 2 from localhost[127.0.0.1] for service smtp'));
  assert.ok(
    logs.includes('warning: Recipient address rate limit exceeded: 3 from localhost[127.0.0.1] for service smtp'),
  );
  assert.ok(
    logs.includes(
      'warning: Message delivery request rate limit exceeded: 2 from localhost[127.0.0.1] for service smtp',
    ),
  );

  const ex = await startSmtpd(
    'smtpd_client_connection_rate_limit = 1\nsmtpd_client_event_limit_exceptions = 127.0.0.0/8',
  );
  const x = await RawClient.connect(ex.port);
  const y = await RawClient.connect(ex.port);
  assert.match(await x.reply(), /^220 /);
  assert.match(await y.reply(), /^220 /);
  await ex.close();
});

test('XCLIENT from an authorised host replaces the client identity', async () => {
  const h = await startSmtpd(
    'smtpd_authorized_xclient_hosts = 127.0.0.1\nsmtpd_authorized_xforward_hosts = 127.0.0.0/8',
  );
  const c = await RawClient.connect(h.port);
  await c.reply();
  const ehlo = await c.cmd('EHLO proxy');
  assert.match(ehlo, /\n250-XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT\n/);
  assert.match(ehlo, /\n250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT\n250-ENHANCEDSTATUSCODES\n/);
  assert.equal(await c.cmd('XCLIENT BOGUS=1'), '501 5.5.4 Bad XCLIENT attribute name: BOGUS');
  assert.equal(
    await c.cmd('XCLIENT NAME=mail.example.net ADDR=192.0.2.7 HELO=origin.example PROTO=ESMTP'),
    '220 mx.example.test ESMTP Postern',
  );
  await c.cmd('MAIL FROM:<a@x>');
  await c.cmd('RCPT TO:<b@x>');
  // XFORWARD belongs before MAIL, as in Postfix.
  assert.equal(await c.cmd('XFORWARD IDENT=abc+20def'), '503 5.5.1 Error: MAIL transaction in progress');
  await c.cmd('QUIT');
  await h.close();
  const m = h.cleanup.messages[0];
  assert.equal(m?.req.client?.addr, '192.0.2.7');
  assert.equal(m?.req.client?.name, 'mail.example.net');
  assert.equal(m?.req.client?.helo, 'origin.example');
  assert.ok(h.logs().includes(`${m?.queueId ?? ''}: client=mail.example.net[192.0.2.7]`));
});
