// Moving to the next MX host: two peers on the same port at different
// loopback addresses, the better one misbehaving. Covers the 421 greeting,
// a per-recipient 4xx retried at the backup, and smtp_mx_session_limit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeDns } from '../dns/fake-dns-server.js';
import { makeAgent, makeRequest, startPeer, type Peer } from './harness.js';

let dns: FakeDns;
const peers: Peer[] = [];
let port = 0;

before(async () => {
  // Primary: greets with 421 for `busy.test`; a second primary defers some recipients.
  const busy = await startPeer({ host: '127.0.0.2', greeting: '421 4.7.0 busy.example Too many connections' });
  port = busy.port;
  peers.push(busy);
  peers.push(await startPeer({ host: '127.0.0.4', port }));
  peers.push(await startPeer({ host: '127.0.0.3', port, accept_all: true }));
  dns = new FakeDns({
    records: [
      { name: 'busy.test', type: 'MX', data: { preference: 10, exchange: 'mx1.busy.test' } },
      { name: 'busy.test', type: 'MX', data: { preference: 20, exchange: 'mx2.busy.test' } },
      { name: 'mx1.busy.test', type: 'A', data: '127.0.0.2' },
      { name: 'mx2.busy.test', type: 'A', data: '127.0.0.3' },
      { name: 'picky.test', type: 'MX', data: { preference: 10, exchange: 'mx1.picky.test' } },
      { name: 'picky.test', type: 'MX', data: { preference: 20, exchange: 'mx2.picky.test' } },
      { name: 'mx1.picky.test', type: 'A', data: '127.0.0.4' },
      { name: 'mx2.picky.test', type: 'A', data: '127.0.0.3' },
    ],
  });
  await dns.start();
});
after(async () => {
  peers.forEach((p) => p.stop());
  await dns.stop();
});

test('a 421 greeting at the primary MX: logged, and the backup MX takes the mail', async () => {
  const { agent, log } = makeAgent('', dns.port);
  const [o] = await agent.deliver(makeRequest(`busy.test:${port}`, ['a@busy.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  assert.equal(o?.relay, `mx2.busy.test[127.0.0.3]:${port}`);
  assert.deepEqual(log.texts(), [
    'ABC123: host mx1.busy.test[127.0.0.2] refused to talk to me: 421 4.7.0 busy.example Too many connections',
  ]);
});

test('smtp_mx_session_limit = 1: no second session, the 421 is the final reason', async () => {
  const { agent } = makeAgent('smtp_mx_session_limit = 1', dns.port);
  const [o] = await agent.deliver(makeRequest(`busy.test:${port}`, ['a@busy.test']));
  assert.deepEqual(
    { s: o?.status, d: o?.dsn, relay: o?.relay, r: o?.reason },
    {
      s: 'deferred',
      d: '4.7.0',
      relay: `mx1.busy.test[127.0.0.2]:${port}`,
      r: 'host mx1.busy.test[127.0.0.2] refused to talk to me: 421 4.7.0 busy.example Too many connections',
    },
  );
});

test('a recipient the primary defers (4xx) is tried at the backup; a 5xx there is final', async () => {
  const { agent } = makeAgent('', dns.port);
  const out = await agent.deliver(
    makeRequest(`picky.test:${port}`, ['ok@picky.test', 'later@picky.test', 'bad@picky.test']),
  );
  await agent.close();
  assert.equal(out[0]?.relay, `mx1.picky.test[127.0.0.4]:${port}`);
  assert.equal(out[0]?.status, 'sent');
  assert.equal(out[1]?.status, 'sent');
  assert.equal(out[1]?.relay, `mx2.picky.test[127.0.0.3]:${port}`);
  assert.equal(out[2]?.status, 'bounced');
  assert.equal(out[2]?.relay, `mx1.picky.test[127.0.0.4]:${port}`);
});
