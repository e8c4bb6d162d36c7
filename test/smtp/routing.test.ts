// MX routing end to end: a fake DNS server on loopback and Python peers.
// Preference order, fallback to the next MX, A fallback without MX, null MX,
// NXDOMAIN, SERVFAIL, DNS timeouts and MX loops, each with Postfix's status.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FakeDns } from '../dns/fake-dns-server.js';
import { orderMx } from '../../src/daemons/smtp/resolve.js';
import { makeAgent, makeRequest, startPeer, tempDir, type Peer } from './harness.js';

let dns: FakeDns;
let p: Peer;

before(async () => {
  p = await startPeer({});
  dns = new FakeDns({
    records: [
      // mx1 (better preference) points where nothing listens on the peer's port.
      { name: 'two.test', type: 'MX', data: { preference: 10, exchange: 'mx1.two.test' } },
      { name: 'two.test', type: 'MX', data: { preference: 20, exchange: 'mx2.two.test' } },
      { name: 'mx1.two.test', type: 'A', data: '127.0.0.3' },
      { name: 'mx2.two.test', type: 'A', data: '127.0.0.1' },
      { name: 'nomx.test', type: 'A', data: '127.0.0.1' },
      { name: 'nullmx.test', type: 'MX', data: { preference: 0, exchange: '.' } },
      { name: 'loop.test', type: 'MX', data: { preference: 10, exchange: 'me.loop.test' } },
      { name: 'me.loop.test', type: 'A', data: '127.0.0.1' },
      { name: 'badmx.test', type: 'MX', data: { preference: 10, exchange: 'gone.badmx.test' } },
    ],
    servfail: ['broken.test'],
    silent: ['silent.test'],
  });
  await dns.start();
});
after(async () => {
  p.stop();
  await dns.stop();
});

test('MX hosts are tried in preference order; a refused one falls through to the next', async () => {
  const { agent, log } = makeAgent('', dns.port);
  const [o] = await agent.deliver(makeRequest(`two.test:${p.port}`, ['a@two.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  assert.deepEqual(log.texts(), [`connect to mx1.two.test[127.0.0.3]:${p.port}: Connection refused`]);
  assert.equal(o?.relay, `mx2.two.test[127.0.0.1]:${p.port}`);
  const mxq = dns.queries.filter((q) => q.name.endsWith('two.test')).map((q) => `${q.name}/${q.type}`);
  assert.deepEqual(mxq.slice(0, 2), ['two.test/MX', 'mx1.two.test/A']);
});

test('smtp_mx_address_limit = 1 stops after the first (refused) MX and defers', async () => {
  const { agent } = makeAgent('smtp_mx_address_limit = 1', dns.port);
  const [o] = await agent.deliver(makeRequest(`two.test:${p.port}`, ['a@two.test']));
  assert.equal(o?.status, 'deferred');
  assert.equal(o?.reason, `connect to mx1.two.test[127.0.0.3]:${p.port}: Connection refused`);
});

test('no MX record: the domain address itself is used', async () => {
  const { agent } = makeAgent('', dns.port);
  const [o] = await agent.deliver(makeRequest(`nomx.test:${p.port}`, ['a@nomx.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  assert.equal(o?.relay, `nomx.test[127.0.0.1]:${p.port}`);
});

test('DNS failures: null MX, NXDOMAIN, SERVFAIL, timeout, unresolvable MX host', async () => {
  const { agent } = makeAgent('', dns.port);
  const cases: [string, string, string, string][] = [
    ['nullmx.test', 'bounced', '5.1.0', 'Domain nullmx.test does not accept mail (nullMX)'],
    [
      'nosuch.test',
      'bounced',
      '5.4.4',
      'Host or domain name not found. Name service error for name=nosuch.test type=AAAA: Host not found',
    ],
    [
      'broken.test',
      'deferred',
      '4.4.3',
      'Host or domain name not found. Name service error for name=broken.test type=MX: Host not found, try again',
    ],
    [
      'silent.test',
      'deferred',
      '4.4.3',
      'Host or domain name not found. Name service error for name=silent.test type=MX: Host not found, try again',
    ],
    [
      'badmx.test',
      'bounced',
      '5.4.4',
      'Host or domain name not found. Name service error for name=gone.badmx.test type=AAAA: Host not found',
    ],
  ];
  for (const [domain, status, dsn, reason] of cases) {
    const [o] = await agent.deliver(makeRequest(domain, [`u@${domain}`]));
    assert.deepEqual(
      { status: o?.status, dsn: o?.dsn, reason: o?.reason, relay: o?.relay },
      { status, dsn, reason, relay: 'none' },
      domain,
    );
  }
});

test('an MX that is this host: mail loops back to myself', async () => {
  const { agent } = makeAgent('', dns.port, 'smtp', ['127.0.0.1']);
  const [o] = await agent.deliver(makeRequest(`loop.test:${p.port}`, ['a@loop.test']));
  assert.equal(o?.status, 'bounced');
  assert.equal(o?.dsn, '5.4.6');
  assert.equal(o?.reason, 'mail for loop.test loops back to myself');
});

test('smtp_fallback_relay is used when the destination cannot be reached', async () => {
  const { agent } = makeAgent(`smtp_fallback_relay = [127.0.0.1]:${p.port}`, dns.port);
  const [o] = await agent.deliver(makeRequest('broken.test', ['a@broken.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  assert.equal(o?.relay, `127.0.0.1[127.0.0.1]:${p.port}`);
});

test('equal MX preferences are shuffled; different ones never are', () => {
  const recs = [
    { preference: 10, exchange: 'a' },
    { preference: 10, exchange: 'b' },
    { preference: 5, exchange: 'first' },
    { preference: 20, exchange: 'last' },
  ];
  const seen = new Set<string>();
  for (let i = 0; i < 64; i++) {
    const o = orderMx(recs).map((r) => r.exchange);
    assert.equal(o[0], 'first');
    assert.equal(o[3], 'last');
    seen.add(o.slice(1, 3).join(','));
  }
  assert.deepEqual([...seen].sort(), ['a,b', 'b,a']);
});

test('lmtp over a unix socket: LHLO and one reply per recipient after DATA', async () => {
  const sock = join(await tempDir(), 'lmtp.sock');
  const lp = await startPeer({ unix: sock, lmtp: true });
  try {
    const { agent } = makeAgent('', undefined, 'lmtp');
    const out = await agent.deliver(makeRequest(`unix:${sock}`, ['ok@l.test', 'full@l.test', 'bad@l.test']));
    await agent.close();
    assert.equal(out[0]?.status, 'sent');
    assert.equal(out[0]?.reason, '250 2.0.0 <ok@l.test> Ok: delivered');
    assert.equal(out[0]?.relay, `client.test[${sock}]`);
    assert.equal(out[1]?.status, 'deferred');
    assert.equal(
      out[1]?.reason,
      `host client.test[${sock}] said: 452 4.2.2 <full@l.test> Mailbox full (in reply to end of DATA command)`,
    );
    assert.equal(out[2]?.status, 'bounced');
    const cmds = (await lp.records()).map((r) => r.cmd);
    assert.ok(cmds.includes('LHLO client.test'));
  } finally {
    lp.stop();
  }
});

test('lmtp over inet: lmtp:inet:host:port form', async () => {
  const lp = await startPeer({ lmtp: true });
  try {
    const { agent } = makeAgent('', undefined, 'lmtp');
    const [o] = await agent.deliver(makeRequest(`inet:127.0.0.1:${lp.port}`, ['ok@l.test']));
    await agent.close();
    assert.equal(o?.status, 'sent');
    assert.equal(o?.relay, `127.0.0.1[127.0.0.1]:${lp.port}`);
  } finally {
    lp.stop();
  }
});
