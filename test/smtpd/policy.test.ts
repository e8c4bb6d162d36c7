// The policy boundary: which stages are asked when (smtpd_delay_reject),
// how a rejection is answered and logged, and what the policy sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startSmtpd } from './harness.js';
import type { PolicyVerdict } from '../../src/daemons/smtpd/policy-api.js';

const relayDenied = (rcpt: string): PolicyVerdict => ({
  action: 'reject',
  reply: { code: 554, dsn: '5.7.1', text: `<${rcpt}>: Relay access denied` },
  logText: `<${rcpt}>: Relay access denied`,
});

test('RCPT rejection: reply, NOQUEUE log line, and later recipients still accepted', async () => {
  const h = await startSmtpd('', {
    policy: (stage, f) =>
      stage === 'rcpt' && f.recipient?.endsWith('@elsewhere') ? relayDenied(f.recipient) : undefined,
  });
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO client.example');
  await c.cmd('MAIL FROM:<a@example.org>');
  assert.equal(await c.cmd('RCPT TO:<x@elsewhere>'), '554 5.7.1 <x@elsewhere>: Relay access denied');
  assert.equal(await c.cmd('RCPT TO:<ok@here>'), '250 2.1.5 Ok');
  assert.equal(await c.cmd('RCPT TO:<y@elsewhere>'), '554 5.7.1 <y@elsewhere>: Relay access denied');
  await c.cmd('QUIT');
  await h.close();
  const logs = h.logs();
  assert.ok(
    logs.includes(
      'NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <x@elsewhere>: Relay access denied; ' +
        'from=<a@example.org> to=<x@elsewhere> proto=ESMTP helo=<client.example>',
    ),
    logs.join('\n'),
  );
  // After the first accepted recipient the queue ID replaces NOQUEUE.
  assert.ok(
    logs.some((l) => /^4Q\w+: reject: RCPT from .*to=<y@elsewhere> proto=ESMTP helo=<client\.example>$/.test(l)),
  );
});

test('smtpd_delay_reject = yes: client, HELO and sender lists are evaluated at RCPT', async () => {
  const h = await startSmtpd('', {
    policy: (stage) =>
      stage === 'connect'
        ? {
            action: 'reject',
            reply: { code: 554, dsn: '5.7.1', text: '<localhost[127.0.0.1]>: Client host rejected: Access denied' },
            logText: '',
          }
        : undefined,
  });
  const c = await RawClient.connect(h.port);
  assert.equal(await c.reply(), '220 mx.example.test ESMTP Postern');
  assert.match(await c.cmd('HELO x'), /^250 /);
  assert.equal(await c.cmd('MAIL FROM:<a@x>'), '250 2.1.0 Ok');
  assert.equal(await c.cmd('RCPT TO:<b@x>'), '554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: Access denied');
  await h.close();
  assert.deepEqual(
    h.policy.calls.map((x) => x.stage),
    ['connect'],
  );
  const f = h.policy.calls[0]?.facts;
  assert.equal(f?.sender, 'a@x');
  assert.equal(f?.recipient, 'b@x');
  assert.equal(f?.helo, 'x');
  assert.equal(f?.clientName, 'localhost');
});

test('smtpd_delay_reject = no: stages run at their own commands', async () => {
  const h = await startSmtpd('smtpd_delay_reject = no', {
    policy: (stage, f) =>
      stage === 'mail' && f.sender === 'bad@x'
        ? {
            action: 'reject',
            reply: { code: 554, dsn: '5.7.1', text: '<bad@x>: Sender address rejected: Access denied' },
            logText: '',
          }
        : undefined,
  });
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  assert.equal(await c.cmd('MAIL FROM:<bad@x>'), '554 5.7.1 <bad@x>: Sender address rejected: Access denied');
  assert.equal(await c.cmd('MAIL FROM:<good@x>'), '250 2.1.0 Ok');
  assert.equal(await c.cmd('RCPT TO:<r@x>'), '250 2.1.5 Ok');
  await h.close();
  assert.deepEqual(
    h.policy.calls.map((x) => x.stage),
    ['connect', 'helo', 'mail', 'mail', 'rcpt'],
  );
  assert.ok(
    h
      .logs()
      .includes(
        'NOQUEUE: reject: MAIL from localhost[127.0.0.1]: 554 5.7.1 <bad@x>: Sender address rejected: Access denied; from=<bad@x> proto=ESMTP helo=<x>',
      ),
  );
});

test('DATA and end-of-data restrictions, and a cleanup refusal', async () => {
  const h = await startSmtpd('', {
    policy: (stage, f) =>
      stage === 'end-of-data' && (f.size ?? 0) > 50
        ? { action: 'reject', reply: { code: 552, dsn: '5.3.4', text: 'Message too big for you' }, logText: '' }
        : undefined,
  });
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  await c.cmd('MAIL FROM:<a@x>');
  await c.cmd('RCPT TO:<b@x>');
  await c.cmd('DATA');
  c.send(`${'w'.repeat(80)}\r\n.\r\n`);
  assert.equal(await c.reply(), '552 5.3.4 Message too big for you');
  h.cleanup.commitVerdict = () => ({ status: 'rejected', reply: { code: 550, dsn: '5.7.1', text: 'Body rejected' } });
  await c.cmd('MAIL FROM:<a@x>');
  await c.cmd('RCPT TO:<b@x>');
  await c.cmd('DATA');
  c.send('small\r\n.\r\n');
  assert.equal(await c.reply(), '550 5.7.1 Body rejected');
  await h.close();
  assert.equal(h.cleanup.messages[0]?.state, 'aborted');
  assert.ok(h.policy.calls.some((x) => x.stage === 'data'));
});

test('a policy that throws defers with 451 and the session goes on', async () => {
  const h = await startSmtpd('', {
    policy: (stage, f) => {
      if (stage === 'rcpt' && f.recipient === 'flaky@x') throw new Error('dict lookup failed');
      return undefined;
    },
  });
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  await c.cmd('MAIL FROM:<a@x>');
  assert.equal(await c.cmd('RCPT TO:<flaky@x>'), '451 4.3.0 <flaky@x>: Temporary lookup failure');
  assert.equal(await c.cmd('RCPT TO:<fine@x>'), '250 2.1.5 Ok');
  await h.close();
  assert.ok(h.logs().includes('warning: localhost[127.0.0.1]: rcpt restrictions: dict lookup failed'));
});

// Established against Debian's Postfix 3.7.11 smtpd (a throwaway `postfix -c DIR start`
// instance with smtpd_delay_reject = no and smtpd_client_restrictions = reject): the
// rejection replaces the 220 greeting, every later command but QUIT (known or not) gets
// `503 5.7.0 Error: access denied for NAME[ADDR]`, each counts as an error (the greeting
// too), the reject is logged once at CONNECT and "too many errors after CONNECT" ends it.
test('smtpd_delay_reject = no: a connect-stage rejection replaces the greeting, then 503 for all but QUIT', async () => {
  const h = await startSmtpd('smtpd_delay_reject = no', {
    policy: (stage) =>
      stage === 'connect'
        ? {
            action: 'reject',
            reply: { code: 554, dsn: '5.7.1', text: '<localhost[127.0.0.1]>: Client host rejected: Access denied' },
            logText: '',
          }
        : undefined,
  });
  const denied = '503 5.7.0 Error: access denied for localhost[127.0.0.1]';
  const c = await RawClient.connect(h.port);
  assert.equal(await c.reply(), '554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: Access denied');
  for (const cmd of ['HELO x', 'EHLO x', 'MAIL FROM:<a@x>', 'RCPT TO:<b@x>', 'DATA', 'NOOP', 'RSET', 'XYZZY']) {
    assert.equal(await c.cmd(cmd), denied, cmd);
  }
  assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
  await h.close();
  const logs = h.logs();
  assert.equal(
    logs.filter((l) => l.includes('reject:')).join('\n'),
    'NOQUEUE: reject: CONNECT from localhost[127.0.0.1]: 554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: Access denied; proto=SMTP',
  );
  assert.ok(
    logs.includes(
      'disconnect from localhost[127.0.0.1] helo=0/1 ehlo=0/1 mail=0/1 rcpt=0/1 data=0/1 rset=0/1 noop=0/1 quit=1 unknown=0/1 commands=1/9',
    ),
    logs.join('\n'),
  );
  assert.equal(h.cleanup.messages.length, 0);
});

test('smtpd_delay_reject = no: a rejected client reaches the hard error limit (the greeting counts)', async () => {
  const h = await startSmtpd(
    ['smtpd_delay_reject = no', 'smtpd_hard_error_limit = 3', 'smtpd_error_sleep_time = 0'].join('\n'),
    {
      policy: (stage) =>
        stage === 'connect'
          ? {
              action: 'reject',
              reply: { code: 450, dsn: '4.3.2', text: '<localhost[127.0.0.1]>: Client host rejected: Try again later' },
              logText: '',
            }
          : undefined,
    },
  );
  const c = await RawClient.connect(h.port);
  assert.equal(await c.reply(), '450 4.3.2 <localhost[127.0.0.1]>: Client host rejected: Try again later');
  assert.equal(await c.cmd('NOOP'), '503 5.7.0 Error: access denied for localhost[127.0.0.1]');
  assert.equal(await c.cmd('NOOP'), '503 5.7.0 Error: access denied for localhost[127.0.0.1]');
  assert.equal(await c.cmd('NOOP'), '421 4.7.0 mx.example.test Error: too many errors');
  await h.close();
  assert.ok(h.logs().includes('too many errors after CONNECT from localhost[127.0.0.1]'), h.logs().join('\n'));
});

test('a queue write error answers 451 and the message is not queued', async () => {
  const h = await startSmtpd();
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  await c.cmd('MAIL FROM:<a@x>');
  await c.cmd('RCPT TO:<b@x>');
  const m = h.cleanup.messages[0];
  assert.ok(m);
  // Make the recorded transaction's storage fail from now on.
  m.chunks = new Proxy(m.chunks, {
    get(target, prop, receiver) {
      if (prop === 'push') throw new Error('disk full');
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  await c.cmd('DATA');
  c.send('Subject: x\r\n\r\nbody\r\n.\r\n');
  assert.equal(await c.reply(), '451 4.3.0 Error: queue file write error');
  assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
  await h.close();
  assert.equal(m.state, 'aborted');
});
