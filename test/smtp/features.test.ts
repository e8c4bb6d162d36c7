// ESMTP features and failure modes of the smtp client against loopback
// peers: timeouts, opportunistic TLS fallback, source address binding, SIZE,
// SMTPUTF8, DSN parameters, IPv6 literals, and bulk delivery to Debian's
// smtp-sink.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { makeAgent, makeRequest, startPeer, type Peer } from './harness.js';

const peers: Peer[] = [];
async function peer(o: Record<string, unknown> = {}): Promise<Peer> {
  const p = await startPeer(o);
  peers.push(p);
  return p;
}
after(() => peers.forEach((p) => p.stop()));

test('a server that never greets: timed out while receiving the initial server greeting', async () => {
  const p = await peer({ slow_greeting: 4 });
  const { agent } = makeAgent('smtp_helo_timeout = 1s');
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test']));
  assert.equal(o?.status, 'deferred');
  assert.equal(
    o?.reason,
    'conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting',
  );
});

test('may: a failed TLS handshake is retried in plaintext on a new connection', async () => {
  const p = await peer({ cert: '/nonexistent', key: '/nonexistent', bad_tls: true });
  const { agent, log } = makeAgent('smtp_tls_security_level = may');
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  assert.ok(log.texts().some((t) => t.includes('Cannot start TLS: handshake failure; retrying without TLS')));
  const cmds = (await p.records()).map((r) => r.cmd).filter(Boolean);
  assert.equal(cmds.filter((c) => c === 'STARTTLS').length, 1);
});

test('smtp_bind_address picks the source address', async () => {
  const p = await peer();
  const { agent } = makeAgent('smtp_bind_address = 127.0.0.2');
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  assert.equal((await p.records()).find((r) => r.data)?.client, '127.0.0.2');
});

test('SIZE: a message over the server limit bounces without MAIL FROM', async () => {
  const p = await peer({ features: ['PIPELINING', 'SIZE 10'] });
  const { agent } = makeAgent('');
  const req = makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test']);
  const [o] = await agent.deliver(req);
  await agent.close();
  assert.deepEqual(
    { s: o?.status, d: o?.dsn, r: o?.reason },
    { s: 'bounced', d: '5.3.4', r: `message size ${req.size} exceeds size limit 10 of server 127.0.0.1[127.0.0.1]` },
  );
  assert.ok(!(await p.records()).some((r) => typeof r.cmd === 'string' && r.cmd.startsWith('MAIL')));
});

test('SMTPUTF8: required by a non-ASCII address and not offered → 5.6.7; offered → passed on', async () => {
  const plain = await peer({ features: ['PIPELINING', '8BITMIME'] });
  const a = makeAgent('');
  const [o] = await a.agent.deliver(makeRequest(`[127.0.0.1]:${plain.port}`, ['jörg@d.test'], { smtputf8: true }));
  await a.agent.close();
  assert.equal(o?.status, 'bounced');
  assert.equal(o?.dsn, '5.6.7');
  assert.equal(o?.reason, 'SMTPUTF8 is required, but was not offered by host 127.0.0.1[127.0.0.1]');
  const utf = await peer();
  const b = makeAgent('');
  const [o2] = await b.agent.deliver(
    makeRequest(`[127.0.0.1]:${utf.port}`, ['a@d.test'], { smtputf8: true, body: '8BITMIME' }),
  );
  await b.agent.close();
  assert.equal(o2?.status, 'sent');
  assert.match(String((await utf.records()).find((r) => r.data)?.mail), / BODY=8BITMIME SMTPUTF8$/);
});

test('DSN parameters are passed on when the server offers DSN', async () => {
  const p = await peer();
  const { agent } = makeAgent('');
  const req = makeRequest(`[127.0.0.1]:${p.port}`, [], { envid: 'env 1', ret: 'HDRS' });
  const withRcpt = {
    ...req,
    recipients: [
      {
        address: 'a@d.test',
        original: 'a@d.test',
        index: 0,
        notify: ['SUCCESS', 'FAILURE'] as const,
        orcpt: 'rfc822;A@d.test',
      },
    ],
  };
  const [o] = await agent.deliver(withRcpt);
  await agent.close();
  assert.equal(o?.status, 'sent');
  const cmds = (await p.records()).map((r) => r.cmd).filter(Boolean);
  assert.ok(
    cmds.some(
      (c) => typeof c === 'string' && /^MAIL FROM:<sender@client\.test> SIZE=\d+ RET=HDRS ENVID=env\+201$/.test(c),
    ),
  );
  assert.ok(cmds.includes('RCPT TO:<a@d.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;A@d.test'));
});

async function ipv6Loopback(): Promise<boolean> {
  const s = createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

test('IPv6 literal next hop [ipv6:::1]', async (t) => {
  if (!(await ipv6Loopback())) return t.skip('no IPv6 loopback on this machine');
  const p = await peer({ host: '::1' });
  const { agent } = makeAgent('');
  const [o] = await agent.deliver(makeRequest(`[ipv6:::1]:${p.port}`, ['a@d.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  assert.equal(o?.relay, `::1[::1]:${p.port}`);
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function waitListening(port: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = new Socket();
      c.once('error', () => resolve(false));
      c.connect(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      });
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

test("bulk delivery to Debian's smtp-sink: 120 recipients in transactions of 50", async (t) => {
  if (!existsSync('/usr/sbin/smtp-sink')) return t.skip('smtp-sink (postfix package) not installed');
  const port = await freePort();
  const root = process.getuid?.() === 0;
  const sink = spawn('/usr/sbin/smtp-sink', [...(root ? ['-u', 'postfix'] : []), `127.0.0.1:${port}`, '10'], {
    stdio: 'ignore',
  });
  try {
    if (!(await waitListening(port))) return t.skip('smtp-sink did not start');
    const { agent } = makeAgent('');
    const rcpts = Array.from({ length: 120 }, (_, i) => `user${i}@sink.test`);
    const out = await agent.deliver(makeRequest(`[127.0.0.1]:${port}`, rcpts));
    await agent.close();
    assert.equal(out.length, 120);
    assert.ok(
      out.every(
        (o) => o.status === 'sent' && o.reason === '250 2.0.0 Ok' && o.relay === `127.0.0.1[127.0.0.1]:${port}`,
      ),
    );
  } finally {
    sink.kill();
  }
});

test('smtp_host_lookup = native and disable_dns_lookups use the hosts file, never DNS', async () => {
  const p = await peer();
  // Port 9 on loopback has no DNS server: any DNS query would end in "try again".
  for (const cf of [
    'smtp_host_lookup = native\ninet_protocols = ipv4',
    'disable_dns_lookups = yes\ninet_protocols = ipv4',
  ]) {
    const { agent } = makeAgent(cf);
    const [o] = await agent.deliver(
      makeRequest(cf.startsWith('disable') ? `localhost:${p.port}` : `[localhost]:${p.port}`, ['a@d.test']),
    );
    await agent.close();
    assert.equal(o?.status, 'sent', cf);
    assert.equal(o?.relay, `localhost[127.0.0.1]:${p.port}`);
  }
});

test('hostile servers (binary noise, endless lines, bogus codes) end in deferral, never a crash', async () => {
  const payloads = [
    Buffer.from([0, 1, 2, 255, 254, 13, 10]),
    Buffer.alloc(200_000, 0x41),
    Buffer.from('220-ok\r\n'.repeat(2000)),
    Buffer.from('999 what\r\n'),
    Buffer.from('220 ok\r\n250-x\r\n'),
  ];
  for (const payload of payloads) {
    const srv = createServer((sock) => {
      sock.on('error', () => undefined);
      sock.write(payload);
      setTimeout(() => sock.destroy(), 300);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const { agent } = makeAgent('smtp_helo_timeout = 2s');
    const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${port}`, ['a@d.test']));
    await new Promise<void>((r) => srv.close(() => r()));
    assert.equal(o?.status, 'deferred', payload.subarray(0, 10).toString('latin1'));
    assert.match(o?.reason ?? '', /127\.0\.0\.1\[127\.0\.0\.1\]/);
  }
});
