// smtpd dialogue tests over real sockets: greeting, EHLO keywords, the
// transaction replies and their Postfix wording, the queued message with
// its Received: header, and the connect/disconnect log lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { RawClient, content, eventually, startSmtpd } from './harness.js';

const EHLO_REPLY = [
  '250-mx.example.test',
  '250-PIPELINING',
  '250-SIZE 10240000',
  '250-VRFY',
  '250-ETRN',
  '250-ENHANCEDSTATUSCODES',
  '250-8BITMIME',
  '250-DSN',
  '250-SMTPUTF8',
  '250 CHUNKING',
].join('\n');

test('a complete session: replies, queued message, Received:, logs', async () => {
  const h = await startSmtpd('', { extra: { now: () => new Date(Date.UTC(2026, 10, 26, 1, 2, 3)) } });
  const c = await RawClient.connect(h.port);
  assert.equal(await c.reply(), '220 mx.example.test ESMTP Postern');
  assert.equal(await c.cmd('EHLO client.example'), EHLO_REPLY);
  assert.equal(await c.cmd('MAIL FROM:<alice@example.org> SIZE=100 BODY=8BITMIME'), '250 2.1.0 Ok');
  assert.equal(
    await c.cmd('RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.test'),
    '250 2.1.5 Ok',
  );
  assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  c.send('Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n');
  const queued = await c.reply();
  assert.match(queued, /^250 2\.0\.0 Ok: queued as 4Q00000001$/);
  assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
  assert.ok(await c.waitClosed());
  await h.close();

  const [m] = h.cleanup.committed();
  assert.ok(m);
  assert.equal(m.req.sender, 'alice@example.org');
  assert.equal(m.req.declaredSize, 100);
  assert.equal(m.req.body, '8BITMIME');
  assert.deepEqual(m.recipients, [
    { address: 'bob@example.test', orcpt: 'rfc822;bob+40example.test', notify: ['SUCCESS', 'FAILURE'] },
  ]);
  assert.deepEqual(m.req.client, {
    name: 'localhost',
    reverseName: 'localhost',
    addr: '127.0.0.1',
    port: m.req.client?.port,
    helo: 'client.example',
    protocol: 'ESMTP',
  });
  const text = content(m);
  const received = text.split('\r\n').slice(0, 3);
  assert.equal(received[0], 'Received: from client.example (localhost [127.0.0.1])');
  assert.equal(received[1], '\tby mx.example.test (Postern) with ESMTP id 4Q00000001');
  assert.match(
    received[2] ?? '',
    /^\tfor <bob@example\.test>; \w{3}, \d{1,2} Nov 2026 \d\d:\d\d:\d\d [+-]\d{4}( \(\w+\))?$/,
  );
  assert.ok(text.endsWith('Subject: hi\r\n\r\n.leading dot\r\nbody\r\n'), JSON.stringify(text));
  const logs = h.logs();
  assert.equal(logs[0], 'connect from localhost[127.0.0.1]');
  assert.ok(logs.includes('4Q00000001: client=localhost[127.0.0.1]'));
  assert.equal(logs.at(-1), 'disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5');
});

test('sequence and syntax errors use Postfix replies and count in the disconnect line', async () => {
  const h = await startSmtpd('smtpd_helo_required = yes\nsmtpd_hard_error_limit = 100');
  const c = await RawClient.connect(h.port);
  await c.reply();
  assert.equal(await c.cmd('MAIL FROM:<a@b>'), '503 5.5.1 Error: send HELO/EHLO first');
  assert.equal(await c.cmd('HELO'), '501 Syntax: HELO hostname');
  assert.equal(await c.cmd('HELO client'), '250 mx.example.test');
  assert.equal(await c.cmd('RCPT TO:<a@b>'), '503 5.5.1 Error: need MAIL command');
  assert.equal(await c.cmd('DATA'), '503 5.5.1 Error: need RCPT command');
  assert.equal(await c.cmd('MAIL TO:<a@b>'), '501 5.5.4 Syntax: MAIL FROM:<address>');
  assert.equal(await c.cmd('MAIL FROM:<a@b'), '501 5.1.7 Bad sender address syntax');
  assert.equal(await c.cmd('MAIL FROM:<a@b> SIZE=abc'), '501 5.5.4 Bad message size syntax');
  assert.equal(await c.cmd('MAIL FROM:<a@b> SIZE=99999999999'), '552 5.3.4 Message size exceeds fixed limit');
  assert.equal(await c.cmd('MAIL FROM:<a@b> FOO=BAR'), '555 5.5.4 Unsupported option: FOO=BAR');
  assert.equal(await c.cmd('MAIL FROM:<a@b> RET=FULL RET=HDRS'), '501 5.5.4 Bad RET parameter syntax');
  assert.equal(await c.cmd('MAIL FROM:<a@b> ENVID=a=b'), '501 5.5.4 Bad ENVID parameter syntax');
  assert.equal(await c.cmd('MAIL FROM:<ü@b>'), '553 5.6.7 Must declare SMTPUTF8 to send unicode address');
  assert.equal(await c.cmd('MAIL FROM: <a@b>'), '250 2.1.0 Ok');
  assert.equal(await c.cmd('MAIL FROM:<a@b>'), '503 5.5.1 Error: nested MAIL command');
  assert.equal(await c.cmd('RCPT TO:<>'), '501 5.1.3 Bad recipient address syntax');
  assert.equal(await c.cmd('RCPT TO:<a@b> NOTIFY=SOMETIMES'), '501 5.5.4 Error: Bad NOTIFY parameter syntax');
  assert.equal(await c.cmd('RCPT TO:<a@b> ORCPT=nosemicolon'), '501 5.5.4 Error: Bad ORCPT parameter syntax');
  assert.equal(await c.cmd('RCPT FROM:<a@b>'), '501 5.5.4 Syntax: RCPT TO:<address>');
  assert.equal(await c.cmd('DATA'), '554 5.5.1 Error: no valid recipients');
  assert.equal(await c.cmd('RSET now'), '501 5.5.4 Syntax: RSET');
  assert.equal(await c.cmd('RSET'), '250 2.0.0 Ok');
  assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
  assert.equal(await c.cmd('HELP'), '500 5.5.2 Error: command not recognized');
  assert.equal(await c.cmd(''), '500 5.5.2 Error: bad syntax');
  assert.equal(await c.cmd('VRFY'), '501 5.5.4 Syntax: VRFY address [SMTPUTF8]');
  assert.equal(await c.cmd('VRFY <postmaster@example.test>'), '252 2.0.0 <postmaster@example.test>');
  assert.equal(await c.cmd('ETRN'), '500 Syntax: ETRN domain');
  assert.equal(await c.cmd('ETRN example.test'), '458 Unable to queue messages');
  assert.equal(await c.cmd('STARTTLS'), '502 5.5.1 Error: command not implemented');
  assert.equal(await c.cmd('AUTH PLAIN'), '503 5.5.1 Error: authentication not enabled');
  assert.equal(await c.cmd('XCLIENT ADDR=1.2.3.4'), '550 5.7.0 Error: insufficient authorization');
  assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
  await c.waitClosed();
  await h.close();
  assert.ok(h.logs().includes('warning: Illegal address syntax from localhost[127.0.0.1] in MAIL command: <a@b'));
  assert.equal(
    h.logs().at(-1),
    'disconnect from localhost[127.0.0.1] helo=1/2 xclient=0/1 starttls=0/1 auth=0/1 mail=1/11 rcpt=0/5 data=0/2 ' +
      'rset=1/2 noop=1 vrfy=1/2 etrn=0/2 quit=1 unknown=0/1 commands=6/32',
  );
});

test('recipient limit, too many errors and VRFY disabled', async () => {
  const h = await startSmtpd('smtpd_recipient_limit = 2\nsmtpd_hard_error_limit = 3\ndisable_vrfy_command = yes');
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  assert.doesNotMatch(await c.cmd('EHLO x'), /VRFY/);
  await c.cmd('MAIL FROM:<>');
  assert.equal(await c.cmd('RCPT TO:<a@x>'), '250 2.1.5 Ok');
  assert.equal(await c.cmd('RCPT TO:<b@x>'), '250 2.1.5 Ok');
  assert.equal(await c.cmd('RCPT TO:<c@x>'), '452 4.5.3 Error: too many recipients');
  assert.equal(await c.cmd('VRFY a@x'), '502 5.5.1 VRFY command is disabled');
  assert.equal(await c.cmd('BOGUS'), '500 5.5.2 Error: command not recognized');
  assert.equal(await c.reply(), '421 4.7.0 mx.example.test Error: too many errors');
  assert.ok(await c.waitClosed());
  await h.close();
  assert.ok(h.logs().includes('too many errors after UNKNOWN from localhost[127.0.0.1]'));
  // The open transaction was abandoned, never committed.
  assert.equal(h.cleanup.committed().length, 0);
  assert.equal(h.cleanup.messages[0]?.state, 'aborted');
});

test('forbidden commands end the session', async () => {
  const h = await startSmtpd();
  const c = await RawClient.connect(h.port);
  await c.reply();
  assert.equal(await c.cmd('GET / HTTP/1.0'), '221 2.7.0 Error: I can break rules, too. Goodbye.');
  assert.ok(await c.waitClosed());
  const c2 = await RawClient.connect(h.port);
  await c2.reply();
  // The default inline regexp rejects a command that does not start with a letter (e.g. a TLS hello).
  assert.equal(await c2.cmd('\x16\x03\x01'), '221 2.7.0 Error: I can break rules, too. Goodbye.');
  assert.ok(await c2.waitClosed());
  // A message header sent as a command: hung up on even with no forbidden commands configured.
  const h2 = await startSmtpd('smtpd_forbidden_commands =');
  const c3 = await RawClient.connect(h2.port);
  await c3.reply();
  assert.equal(await c3.cmd('Subject: hello'), '221 2.7.0 Error: I can break rules, too. Goodbye.');
  assert.ok(await c3.waitClosed());
  await h2.close();
  assert.ok(h2.logs().includes('warning: non-SMTP command from localhost[127.0.0.1]: Subject: hello'));
  await h.close();
  assert.ok(h.logs().includes('warning: non-SMTP command from localhost[127.0.0.1]: GET / HTTP/1.0'));
  assert.ok(h.logs().includes('disconnect from localhost[127.0.0.1] unknown=0/1 commands=0/1'));
});

test('timeout: 421 4.4.2 and the log line', async () => {
  const h = await startSmtpd('smtpd_timeout = 1s');
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('HELO x');
  assert.equal(await c.reply(8000), '421 4.4.2 mx.example.test Error: timeout exceeded');
  assert.ok(await c.waitClosed());
  await h.close();
  assert.ok(h.logs().includes('timeout after HELO from localhost[127.0.0.1]'));
});

test('lost connection after DATA is logged with the byte count', async () => {
  const h = await startSmtpd();
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  await c.cmd('MAIL FROM:<a@x>');
  await c.cmd('RCPT TO:<b@x>');
  await c.cmd('DATA');
  c.send('Subject: x\r\n');
  await eventually(() => (h.cleanup.messages[0]?.chunks.length ?? 0) >= 2);
  c.close();
  assert.ok(await eventually(() => h.logs().some((l) => l.startsWith('disconnect'))));
  await h.close();
  assert.ok(h.logs().includes('lost connection after DATA (12 bytes) from localhost[127.0.0.1]'), h.logs().join('\n'));
  assert.equal(h.cleanup.messages[0]?.state, 'aborted');
});

test('peer name: forward-confirmed, unconfirmed, and lookups off', async () => {
  const { fakeResolver } = await import('./harness.js');
  const h = await startSmtpd('', {
    resolver: fakeResolver({ '127.0.0.1': ['liar.example'] }, { 'liar.example': ['192.0.2.9'] }),
  });
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('QUIT');
  await h.close();
  assert.ok(h.logs().includes('warning: hostname liar.example does not resolve to address 127.0.0.1'));
  assert.ok(h.logs().includes('connect from unknown[127.0.0.1]'));
  const h2 = await startSmtpd('smtpd_peername_lookup = no');
  const c2 = await RawClient.connect(h2.port);
  await c2.reply();
  await c2.cmd('QUIT');
  await h2.close();
  assert.ok(h2.logs().includes('connect from unknown[127.0.0.1]'));
});

function haveIpv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === '::1'));
}

test(
  'IPv6 client: [::1] in logs, IPv6: form in Received:',
  { skip: !haveIpv6Loopback() && 'no ::1 on this host' },
  async () => {
    const h = await startSmtpd('smtpd_peername_lookup = no', { host: '::1' });
    const c = await RawClient.connect(h.port, '::1');
    await c.reply();
    await c.cmd('HELO v6');
    await c.cmd('MAIL FROM:<a@x>');
    await c.cmd('RCPT TO:<b@x>');
    await c.cmd('DATA');
    assert.match(await c.cmd('hi\r\n.'), /^250 /);
    await h.close();
    assert.ok(h.logs().includes('connect from unknown[::1]'));
    const m = h.cleanup.committed()[0];
    assert.ok(m);
    assert.equal(content(m).split('\r\n')[0], 'Received: from v6 (unknown [IPv6:::1])');
    assert.match(content(m).split('\r\n')[1] ?? '', / with SMTP id /);
  },
);

test('smtpd_junk_command_limit: junk beyond the limit counts as errors', async () => {
  const h = await startSmtpd('smtpd_junk_command_limit = 2\nsmtpd_hard_error_limit = 2');
  const c = await RawClient.connect(h.port);
  await c.reply();
  assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
  assert.equal(await c.cmd('RSET'), '250 2.0.0 Ok');
  assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
  assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
  assert.equal(await c.reply(), '421 4.7.0 mx.example.test Error: too many errors');
  assert.ok(await c.waitClosed());
  await h.close();
});

test('timeout in the middle of DATA names the stage and byte count', async () => {
  const h = await startSmtpd('smtpd_timeout = 1s');
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  await c.cmd('MAIL FROM:<a@x>');
  await c.cmd('RCPT TO:<b@x>');
  await c.cmd('DATA');
  c.send('Subject: slow\r\n');
  assert.equal(await c.reply(8000), '421 4.4.2 mx.example.test Error: timeout exceeded');
  await h.close();
  assert.ok(h.logs().includes('timeout after DATA (15 bytes) from localhost[127.0.0.1]'), h.logs().join('\n'));
  assert.equal(h.cleanup.messages[0]?.state, 'aborted');
});

// As Debian's Postfix 3.7.11 smtpd answers the same dialogue (test/smtpd/compare/run.sh).
test('VRFY: allowed inside a transaction, one address with an optional SMTPUTF8 keyword', async () => {
  const h = await startSmtpd();
  const c = await RawClient.connect(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  assert.equal(await c.cmd('MAIL FROM:<a@x>'), '250 2.1.0 Ok');
  assert.equal(await c.cmd('VRFY root'), '252 2.0.0 root');
  assert.equal(await c.cmd('VRFY a b'), '501 5.1.3 Bad recipient address syntax');
  assert.equal(await c.cmd('VRFY root SMTPUTF8'), '252 2.0.0 root');
  assert.equal(await c.cmd('RCPT TO:<b@x> NOTIFY=NEVER NOTIFY=NEVER'), '501 5.5.4 Error: Bad NOTIFY parameter syntax');
  assert.equal(
    await c.cmd('RCPT TO:<b@x> ORCPT=rfc822;a@b ORCPT=rfc822;a@b'),
    '501 5.5.4 Error: Bad ORCPT parameter syntax',
  );
  assert.equal(await c.cmd('RSET'), '250 2.0.0 Ok');
  assert.equal(await c.cmd('MAIL FROM:<a@x> ENVID=x ENVID=y'), '501 5.5.4 Bad ENVID parameter syntax');
  assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
  await h.close();
});
