// End-to-end smtp(8) client deliveries to real peers on loopback: the
// outcome, dsn, relay= and reason text of each case, as Postfix words them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { makeAgent, makeRequest, startPeer, type Peer } from './harness.js';

const peers: Peer[] = [];
async function peer(o: Record<string, unknown> = {}): Promise<Peer> {
  const p = await startPeer(o);
  peers.push(p);
  return p;
}
after(() => peers.forEach((p) => p.stop()));

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('pipelined delivery: sent with the server reply, dot-stuffing on the wire undone by the peer', async () => {
  const p = await peer();
  const { agent } = makeAgent('');
  const out = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@dest.test', 'b@dest.test']));
  await agent.close();
  for (const o of out) {
    assert.equal(o.status, 'sent');
    assert.equal(o.dsn, '2.0.0');
    assert.equal(o.reason, '250 2.0.0 Ok: queued as PEER1');
    assert.equal(o.relay, `127.0.0.1[127.0.0.1]:${p.port}`);
  }
  const msg = (await p.records()).find((r) => r.data);
  assert.deepEqual(msg?.rcpts, ['a@dest.test', 'b@dest.test']);
  assert.match(String(msg?.mail), /^MAIL FROM:<sender@client\.test> SIZE=\d+$/);
  assert.equal(msg?.data, 'Subject: test\r\nFrom: a@client.test\r\n\r\nhello\r\n.leading dot\r\n');
});

test('mixed per-recipient replies: 2xx sent, 5xx bounced, 4xx deferred, each with its own reason', async () => {
  const p = await peer();
  const { agent } = makeAgent('');
  const out = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['ok@d.test', 'bad@d.test', 'later@d.test']));
  await agent.close();
  const label = `127.0.0.1[127.0.0.1]`;
  assert.equal(out[0]?.status, 'sent');
  assert.deepEqual(
    { status: out[1]?.status, dsn: out[1]?.dsn, reason: out[1]?.reason },
    {
      status: 'bounced',
      dsn: '5.1.1',
      reason: `host ${label} said: 550 5.1.1 <bad@d.test>: Recipient address rejected: User unknown (in reply to RCPT TO command)`,
    },
  );
  assert.equal(out[2]?.status, 'deferred');
  assert.equal(out[2]?.dsn, '4.2.0');
  assert.match(out[2]?.reason ?? '', /said: 450 4\.2\.0 <later@d\.test>: .* \(in reply to RCPT TO command\)$/);
});

test('connection refused defers with relay=none', async () => {
  const port = await closedPort();
  const { agent } = makeAgent('');
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${port}`, ['a@d.test']));
  assert.deepEqual(o, {
    index: 0,
    status: 'deferred',
    dsn: '4.4.1',
    relay: 'none',
    reason: `connect to 127.0.0.1[127.0.0.1]:${port}: Connection refused`,
  });
});

test('421 greeting defers; 554 greeting is skipped (smtp_skip_5xx_greeting) and defers too', async () => {
  for (const g of ['421 4.3.2 Service not available', '554 5.7.1 go away']) {
    const p = await peer({ greeting: g });
    const { agent } = makeAgent('');
    const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test']));
    assert.equal(o?.status, 'deferred');
    assert.equal(o?.reason, `host 127.0.0.1[127.0.0.1] refused to talk to me: ${g}`);
    assert.equal(o?.dsn[0], '4');
  }
  const p = await peer({ greeting: '554 5.7.1 go away' });
  const { agent } = makeAgent('smtp_skip_5xx_greeting = no');
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test']));
  assert.equal(o?.status, 'bounced');
  assert.equal(o?.dsn, '5.7.1');
});

test('a server that drops the connection mid-DATA leaves the message deferred', async () => {
  const p = await peer({ drop_in_data: 1 });
  const { agent } = makeAgent('');
  const body = `Subject: x\r\n\r\n${'line\r\n'.repeat(50)}`;
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test'], {}, body));
  assert.equal(o?.status, 'deferred');
  assert.match(
    o?.reason ?? '',
    /^lost connection with 127\.0\.0\.1\[127\.0\.0\.1\] while sending (message body|end of data -- message may be sent more than once)$/,
  );
});

test('5xx to MAIL FROM bounces every recipient (also when a sloppy server then says 354 to DATA)', async () => {
  const p = await peer({ mail_reply: '553 5.7.1 <sender@client.test>: Sender address rejected', sloppy: true });
  const { agent } = makeAgent('');
  const out = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test', 'b@d.test']));
  await agent.close();
  for (const o of out) {
    assert.equal(o.status, 'bounced');
    assert.match(o.reason, /said: 553 5\.7\.1 .*\(in reply to MAIL FROM command\)$/);
  }
  // The session ended cleanly: the empty DATA was closed with a dot and RSET was answered.
  const recs = await p.records();
  assert.equal(recs.find((r) => 'data' in r)?.data, '');
  assert.deepEqual(recs.map((r) => r.cmd).slice(-2), ['RSET', 'QUIT']);
});

test('EHLO refused: HELO fallback, and no ESMTP parameters are sent', async () => {
  const p = await peer({ no_ehlo: true, features: [] });
  const { agent } = makeAgent('');
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  const cmds = (await p.records()).map((r) => r.cmd).filter(Boolean);
  assert.ok(cmds.includes('HELO client.test'));
  assert.ok(cmds.includes('MAIL FROM:<sender@client.test>'));
});

test('8-bit message to a server without 8BITMIME is converted to quoted-printable', async () => {
  const p = await peer({ features: ['PIPELINING'] });
  const { agent } = makeAgent('');
  const body =
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe = hi\r\n';
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test'], { body: '8BITMIME' }, body));
  await agent.close();
  assert.equal(o?.status, 'sent');
  const msg = (await p.records()).find((r) => r.data);
  assert.match(String(msg?.data), /Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe =3D hi\r\n$/);
  assert.doesNotMatch(String(msg?.mail), /BODY=/);
});

test('the same destination reuses a cached connection (one EHLO for two deliveries)', async () => {
  const p = await peer();
  const { agent } = makeAgent('');
  const a = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test']));
  const b = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['b@d.test']));
  await agent.close();
  assert.equal(a[0]?.status, 'sent');
  assert.equal(b[0]?.status, 'sent');
  const recs = await p.records();
  assert.equal(recs.filter((r) => typeof r.cmd === 'string' && r.cmd.startsWith('EHLO')).length, 1);
  assert.equal(recs.filter((r) => r.data).length, 2);
});

test('smtp_destination_recipient_limit splits recipients over transactions', async () => {
  const p = await peer();
  const { agent } = makeAgent('smtp_destination_recipient_limit = 2');
  const out = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test', 'b@d.test', 'c@d.test']));
  await agent.close();
  assert.ok(out.every((o) => o.status === 'sent'));
  const txns = (await p.records()).filter((r) => r.data);
  assert.deepEqual(
    txns.map((t) => t.rcpts),
    [['a@d.test', 'b@d.test'], ['c@d.test']],
  );
});

test('XFORWARD is sent when offered and enabled', async () => {
  const p = await peer({ features: ['PIPELINING', 'XFORWARD NAME ADDR HELO IDENT'] });
  const { agent } = makeAgent('smtp_send_xforward_command = yes');
  const client = { name: 'c.example', addr: '192.0.2.9', helo: 'c' };
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test'], { client }));
  await agent.close();
  assert.equal(o?.status, 'sent');
  const cmds = (await p.records()).map((r) => r.cmd);
  assert.ok(cmds.includes('XFORWARD NAME=c.example ADDR=192.0.2.9 HELO=c IDENT=ABC123'));
});

test('smtp_connection_reuse_count_limit = 1: each delivery gets a fresh connection', async () => {
  const p = await peer();
  const { agent } = makeAgent('smtp_connection_reuse_count_limit = 1');
  await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test']));
  await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['b@d.test']));
  await agent.close();
  const recs = await p.records();
  assert.equal(recs.filter((r) => typeof r.cmd === 'string' && r.cmd.startsWith('EHLO')).length, 2);
});

test('disable_mime_output_conversion = yes sends 8-bit content unchanged', async () => {
  const p = await peer({ features: ['PIPELINING'] });
  const { agent } = makeAgent('disable_mime_output_conversion = yes');
  const body = 'MIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdfe\r\n';
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test'], { body: '8BITMIME' }, body));
  await agent.close();
  assert.equal(o?.status, 'sent');
  assert.equal((await p.records()).find((r) => r.data)?.data, body);
});

test('smtp_connection_cache_on_demand = no: only smtp_connection_cache_destinations are cached', async () => {
  const p = await peer();
  const hop = `[127.0.0.1]:${p.port}`;
  const ehlos = async (): Promise<number> =>
    (await p.records()).filter((r) => typeof r.cmd === 'string' && r.cmd.startsWith('EHLO')).length;
  const off = makeAgent('smtp_connection_cache_on_demand = no');
  await off.agent.deliver(makeRequest(hop, ['a@d.test']));
  await off.agent.deliver(makeRequest(hop, ['b@d.test']));
  await off.agent.close();
  assert.equal(await ehlos(), 2);
  const listed = makeAgent(`smtp_connection_cache_on_demand = no\nsmtp_connection_cache_destinations = ${hop}`);
  await listed.agent.deliver(makeRequest(hop, ['a@d.test']));
  await listed.agent.deliver(makeRequest(hop, ['b@d.test']));
  await listed.agent.close();
  assert.equal(await ehlos(), 3);
});
