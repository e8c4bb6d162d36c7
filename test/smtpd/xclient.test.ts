// XCLIENT and XFORWARD as Postfix answers them: the order of the sanity
// checks, attribute validation and its reply texts, XCLIENT's new identity
// reaching Received:, the queue file and the authorisation itself, and
// XFORWARD's attributes reaching the `client=` log line and the queue file
// for one transaction only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { content, RawClient, startSmtpd } from './harness.js';

const AUTH = 'smtpd_authorized_xclient_hosts = 127.0.0.1\nsmtpd_authorized_xforward_hosts = 127.0.0.1';

async function send(c: RawClient): Promise<string> {
  await c.cmd('MAIL FROM:<a@sender.example>');
  await c.cmd('RCPT TO:<b@rcpt.example>');
  await c.cmd('DATA');
  return c.cmd('Subject: t\r\n\r\nbody\r\n.');
}

test('unauthorised clients: no keywords, syntax checked before authorisation', async () => {
  const h = await startSmtpd('');
  try {
    const c = await RawClient.connect(h.port);
    await c.reply();
    assert.doesNotMatch(await c.cmd('EHLO x.example'), /XCLIENT|XFORWARD/);
    assert.equal(await c.cmd('XCLIENT'), '501 5.5.4 Syntax: XCLIENT attribute=value...');
    assert.equal(await c.cmd('XFORWARD'), '501 5.5.4 Syntax: XFORWARD attribute=value...');
    assert.equal(await c.cmd('XCLIENT ADDR=192.0.2.1'), '550 5.7.0 Error: insufficient authorization');
    assert.equal(await c.cmd('XFORWARD ADDR=192.0.2.1'), '550 5.7.0 Error: insufficient authorization');
    await c.cmd('MAIL FROM:<a@b.example>');
    assert.equal(await c.cmd('XCLIENT ADDR=192.0.2.1'), '503 5.5.1 Error: MAIL transaction in progress');
    await c.cmd('QUIT');
  } finally {
    await h.close();
  }
});

test('XCLIENT: bad attributes are refused with Postfix texts and change nothing', async () => {
  const h = await startSmtpd(AUTH);
  try {
    const c = await RawClient.connect(h.port);
    await c.reply();
    await c.cmd('EHLO proxy.example');
    assert.equal(await c.cmd('XCLIENT ADDR'), '501 5.5.4 Error: attribute=value expected');
    assert.equal(await c.cmd(`XCLIENT NAME=${'a'.repeat(256)}`), '501 5.5.4 Error: attribute value too long');
    assert.equal(await c.cmd('XCLIENT NAME=ok.example ADDR=999.1.2.3'), '501 5.5.4 Bad ADDR syntax: 999.1.2.3');
    assert.equal(await c.cmd('XCLIENT NAME=bad!name'), '501 5.5.4 Bad NAME syntax: bad!name');
    assert.equal(await c.cmd('XCLIENT PROTO=LMTP'), '501 5.5.4 Bad PROTO syntax: LMTP');
    assert.equal(await c.cmd('XCLIENT PORT=12x'), '501 5.5.4 Bad PORT syntax: 12x');
    assert.equal(await c.cmd('XCLIENT FOO=bar'), '501 5.5.4 Bad XCLIENT attribute name: FOO');
    assert.match(await send(c), /^250 /);
    await c.cmd('QUIT');
  } finally {
    await h.close();
  }
  const [m] = h.cleanup.committed();
  assert.equal(m?.req.client?.addr, '127.0.0.1');
  assert.equal(m?.req.client?.name, 'localhost');
});

test('XCLIENT: the new identity reaches Received:, the queue file and the log; LOGIN authenticates', async () => {
  const h = await startSmtpd(AUTH);
  try {
    const c = await RawClient.connect(h.port);
    await c.reply();
    await c.cmd('EHLO proxy.example');
    assert.equal(
      await c.cmd(
        'XCLIENT NAME=mail.example.net ADDR=IPv6:2001:DB8::7 PORT=4321 HELO=origin+20host PROTO=ESMTP LOGIN=joe',
      ),
      '220 mx.example.test ESMTP Postern',
    );
    assert.match(await send(c), /^250 /);
    // The proxied client is not an authorised XCLIENT host itself.
    assert.equal(await c.cmd('XCLIENT ADDR=192.0.2.1'), '550 5.7.0 Error: insufficient authorization');
    await c.cmd('QUIT');
  } finally {
    await h.close();
  }
  const [m] = h.cleanup.committed();
  assert.deepEqual(
    [m?.req.client?.name, m?.req.client?.addr, m?.req.client?.port, m?.req.client?.helo, m?.req.client?.saslUsername],
    ['mail.example.net', '2001:db8::7', 4321, 'origin?host', 'joe'],
  );
  assert.match(
    m ? content(m) : '',
    /^Received: from origin\?host \(mail\.example\.net \[IPv6:2001:db8::7\]\)\r\n\tby mx\.example\.test \(Postern\) with ESMTPA id /,
  );
  assert.ok(
    h
      .logs()
      .includes(`${m?.queueId ?? ''}: client=mail.example.net[2001:db8::7], sasl_method=XCLIENT, sasl_username=joe`),
    h.logs().join('\n'),
  );
});

test('XFORWARD: orig_client and orig_queue_id in the log, forwarded attributes in the queue file, one transaction only', async () => {
  const h = await startSmtpd(AUTH);
  try {
    const c = await RawClient.connect(h.port);
    await c.reply();
    await c.cmd('EHLO filter.example');
    assert.equal(await c.cmd('XFORWARD NAME=orig.example ADDR=203.0.113.9 PORT=1234'), '250 2.0.0 Ok');
    assert.equal(await c.cmd('XFORWARD PROTO=ESMTP HELO=orig-helo IDENT=ABC+2B123 SOURCE=REMOTE'), '250 2.0.0 Ok');
    assert.equal(await c.cmd('XFORWARD SOURCE=ELSEWHERE'), '501 5.5.4 Bad SOURCE syntax: ELSEWHERE');
    assert.equal(await c.cmd('XFORWARD ADDR=not-an-address'), '501 5.5.4 Bad ADDR syntax: not-an-address');
    assert.equal(await c.cmd('XFORWARD BOGUS=1'), '501 5.5.4 Bad XFORWARD attribute name: BOGUS');
    assert.match(await send(c), /^250 /);
    assert.match(await send(c), /^250 /);
    await c.cmd('QUIT');
  } finally {
    await h.close();
  }
  const [first, second] = h.cleanup.committed();
  assert.deepEqual(
    [
      first?.req.client?.name,
      first?.req.client?.addr,
      first?.req.client?.port,
      first?.req.client?.helo,
      first?.req.client?.protocol,
    ],
    ['orig.example', '203.0.113.9', 1234, 'orig-helo', 'ESMTP'],
  );
  // Received: still names the real client: XFORWARD changes only what is logged and recorded.
  assert.match(first ? content(first) : '', /^Received: from filter\.example \(localhost \[127\.0\.0\.1\]\)/);
  const logs = h.logs();
  assert.ok(
    logs.includes(
      `${first?.queueId ?? ''}: client=localhost[127.0.0.1], orig_queue_id=ABC+123, orig_client=orig.example[203.0.113.9]`,
    ),
    logs.join('\n'),
  );
  assert.equal(second?.req.client?.addr, '127.0.0.1');
  assert.ok(logs.includes(`${second?.queueId ?? ''}: client=localhost[127.0.0.1]`));
});

test('XCLIENT-authorised proxies are not subject to the connection count limit', async () => {
  const h = await startSmtpd(`${AUTH}\nsmtpd_client_connection_count_limit = 1`);
  try {
    const a = await RawClient.connect(h.port);
    assert.match(await a.reply(), /^220 /);
    const b = await RawClient.connect(h.port);
    assert.match(await b.reply(), /^220 /);
    await a.cmd('QUIT');
    await b.cmd('QUIT');
  } finally {
    await h.close();
  }
});
