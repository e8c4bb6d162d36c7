// smtp_generic_maps / lmtp_generic_maps: envelope and primary header
// addresses rewritten on the way out (generic(5) key order, @domain results,
// extensions), other headers and the body left alone, a table failure
// deferring before anything is sent; plus the header address scanner.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { findAddresses, rewriteAddresses } from '../../src/daemons/smtp/header-addresses.js';
import { makeRequest, makeTableAgent, startPeer, type Peer } from './harness.js';

const peers: Peer[] = [];
after(() => peers.forEach((p) => p.stop()));

const CF = 'mydestination = local.example\nsmtp_generic_maps = test:generic\nrecipient_delimiter = +\n';
const TABLE = {
  him: 'him@isp.example',
  'her@local.example': 'her.name@isp.example',
  '@lan.example': '@isp.example',
  'multi@local.example': 'one@isp.example, two@isp.example',
};

const MESSAGE = [
  'Received: from x (x [192.0.2.1]) by local.example; him@local.example',
  'From: "Him Self" <him@local.example>',
  'To: team: her@local.example (Her),',
  ' bob@lan.example;, other@elsewhere.example',
  'Cc: <@relay.example:him+list@local.example>',
  'Subject: mail for him@local.example',
  '',
  'From: him@local.example stays in the body',
  '',
].join('\r\n');

test('generic maps rewrite the envelope and address headers, nothing else', async () => {
  const p = await startPeer({});
  peers.push(p);
  const { agent } = makeTableAgent(CF, { 'test:generic': TABLE });
  const req = makeRequest(
    `[127.0.0.1]:${p.port}`,
    ['her@local.example', 'bob@lan.example', 'other@elsewhere.example'],
    { sender: 'him@local.example' },
    MESSAGE,
  );
  const outcomes = await agent.deliver(req);
  await agent.close();
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ['sent', 'sent', 'sent'],
  );
  const rec = (await p.records()).find((r) => r.data);
  const expected = [
    'Received: from x (x [192.0.2.1]) by local.example; him@local.example',
    'From: "Him Self" <him@isp.example>',
    'To: team: her.name@isp.example (Her),',
    ' bob@isp.example;, other@elsewhere.example',
    // A stripped extension is not carried over unless propagate_unmatched_extensions says generic.
    'Cc: <@relay.example:him@isp.example>',
    'Subject: mail for him@local.example',
    '',
    'From: him@local.example stays in the body',
    '',
  ].join('\r\n');
  // SIZE= announces what is sent, not what is queued.
  assert.equal(rec?.mail, `MAIL FROM:<him@isp.example> SIZE=${Buffer.byteLength(expected)}`);
  assert.deepEqual(rec?.rcpts, ['her.name@isp.example', 'bob@isp.example', 'other@elsewhere.example']);
  assert.equal(rec?.data, expected);
});

test('propagate_unmatched_extensions = generic keeps the extension; a multi-valued entry uses the first', async () => {
  const p = await startPeer({});
  peers.push(p);
  const { agent, log } = makeTableAgent(`${CF}propagate_unmatched_extensions = generic\n`, { 'test:generic': TABLE });
  const req = makeRequest(`[127.0.0.1]:${p.port}`, ['multi@local.example'], { sender: 'him+news@local.example' });
  const [o] = await agent.deliver(req);
  await agent.close();
  assert.equal(o?.status, 'sent');
  const rec = (await p.records()).find((r) => r.data);
  assert.match(String(rec?.mail), /^MAIL FROM:<him\+news@isp\.example>/);
  assert.deepEqual(rec?.rcpts, ['one@isp.example']);
  assert.ok(
    log.texts().some((t) => t.includes('smtp_generic_maps: multi-valued entry for address multi@local.example')),
  );
});

test('lmtp uses lmtp_generic_maps, not smtp_generic_maps', async () => {
  const p = await startPeer({ lmtp: true });
  peers.push(p);
  const { agent } = makeTableAgent(
    'mydestination = local.example\nsmtp_generic_maps = test:smtp\nlmtp_generic_maps = test:lmtp\n',
    { 'test:smtp': { '@d.test': '@wrong.example' }, 'test:lmtp': { '@d.test': '@right.example' } },
    'lmtp',
  );
  const [o] = await agent.deliver(makeRequest(`inet:127.0.0.1:${p.port}`, ['a@d.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  assert.deepEqual((await p.records()).find((r) => r.data)?.rcpts, ['a@right.example']);
});

test('a generic table that fails defers with 4.3.0 before connecting', async () => {
  const p = await startPeer({});
  peers.push(p);
  const { agent } = makeTableAgent(CF, { 'test:generic': 'fail' });
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${p.port}`, ['a@d.test']));
  assert.deepEqual(
    { s: o?.status, d: o?.dsn, r: o?.reason },
    { s: 'deferred', d: '4.3.0', r: 'smtp_generic_maps lookup error' },
  );
  assert.deepEqual(await p.records(), []);
});

test('header address scanner: quoted local parts, routes, groups and comments', () => {
  assert.deepEqual(
    findAddresses(' "a b"@x.example, <@r1,@r2:c@[192.0.2.1]>, g: d.e@f.example (c@omment);, "Name, Q" <q@h>').map(
      (s) => s.address,
    ),
    ['a b@x.example', 'c@[192.0.2.1]', 'd.e@f.example', 'q@h'],
  );
  assert.deepEqual(findAddresses(' undisclosed-recipients:;'), []);
  assert.equal(
    rewriteAddresses(' Joe <joe@x.example>', (a) => (a === 'joe@x.example' ? 'joe smith@y.example' : undefined)).value,
    ' Joe <"joe smith"@y.example>',
  );
});

test('header address scanner never throws and an identity map changes nothing', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (v) => {
      const spans = findAddresses(v);
      for (const s of spans) assert.ok(s.start >= 0 && s.end <= v.length && s.start < s.end);
      const r = rewriteAddresses(v, (a) => a);
      assert.equal(r.value, v);
      assert.equal(r.changed, false);
    }),
    { numRuns: 300 },
  );
});
