// qmgr(8) content filter routing: a message carrying a filter goes, with all
// its recipients, to the filter's transport and next hop instead of where
// trivial-rewrite resolves it; an empty next hop means default_filter_nexthop
// or else the recipient domain; a bad request is ignored with a warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterRoute, parseFilter } from '../../src/daemons/qmgr/content-filter.js';
import { harness } from './harness.js';

test('parseFilter splits transport:nexthop once and refuses what has no transport', () => {
  assert.deepEqual(parseFilter('scan:[127.0.0.1]:10025'), { transport: 'scan', nexthop: '[127.0.0.1]:10025' });
  assert.deepEqual(parseFilter('smtp:'), { transport: 'smtp', nexthop: '' });
  assert.equal(parseFilter('scan'), undefined);
  assert.equal(parseFilter(':host'), undefined);
  assert.deepEqual(filterRoute({ transport: 'scan', nexthop: '' }, 'bob@Remote.ORG', ''), {
    transport: 'scan',
    nexthop: 'Remote.ORG',
  });
  assert.deepEqual(filterRoute({ transport: 'scan', nexthop: '' }, 'bob@remote.org', 'filter.example'), {
    transport: 'scan',
    nexthop: 'filter.example',
  });
});

test('a filtered message sends local, remote and discard-class recipients to the filter in one batch', async () => {
  const { mapDict } = await import('../trivial-rewrite/map-dict.js');
  const h = await harness('transport_maps = hash:/t\n', {
    tables: { 'hash:/t': mapDict('hash:/t', { 'gone.example': 'discard:' }) },
  });
  const id = h.store.add({
    sender: 'alice@example.com',
    recipients: ['bob@remote.org', 'carol@localhost', 'dan@gone.example'],
    filter: 'relay:[127.0.0.1]:10025',
  });
  await h.qmgr.whenIdle();
  assert.equal(h.local.requests.length, 0, 'the local recipient is not delivered locally');
  assert.equal(h.smtp.requests.length, 1);
  const req = h.smtp.requests[0];
  assert.equal(req?.transport, 'relay');
  assert.equal(req?.nexthop, '[127.0.0.1]:10025');
  assert.deepEqual(
    req?.recipients.map((r) => r.address),
    ['bob@remote.org', 'carol@localhost', 'dan@gone.example'],
  );
  assert.deepEqual(h.lines('qmgr'), [`${id}: removed`]);
});

test('a message without a filter is routed normally beside a filtered one', async () => {
  const h = await harness();
  h.store.add({ sender: 's@example.com', recipients: ['carol@localhost'], filter: 'smtp:[127.0.0.1]:10025' });
  h.store.add({ sender: 's@example.com', recipients: ['carol@localhost'] });
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 1);
  assert.equal(h.local.requests.length, 1);
});

test('an empty filter next hop uses the recipient domain, or default_filter_nexthop when set', async () => {
  const h = await harness();
  h.store.add({ sender: 's@example.com', recipients: ['a@one.example', 'b@two.example'], filter: 'smtp:' });
  await h.qmgr.whenIdle();
  assert.deepEqual(h.smtp.requests.map((r) => r.nexthop).sort(), ['one.example', 'two.example']);

  const d = await harness('default_filter_nexthop = [127.0.0.1]:10026\n');
  d.store.add({ sender: 's@example.com', recipients: ['a@one.example', 'b@two.example'], filter: 'smtp:' });
  await d.qmgr.whenIdle();
  assert.deepEqual(
    d.smtp.requests.map((r) => [r.nexthop, r.recipients.length]),
    [['[127.0.0.1]:10026', 2]],
  );
});

test('a filter transport without an agent defers; defer_transports applies to the filter transport', async () => {
  const h = await harness('defer_transports = relay\n');
  const id = h.store.add({ sender: 's@example.com', recipients: ['bob@remote.org'], filter: 'scan:[127.0.0.1]:1' });
  const id2 = h.store.add({ sender: 's@example.com', recipients: ['bob@remote.org'], filter: 'relay:[127.0.0.1]:1' });
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 0);
  assert.equal(h.store.get(id)?.state, 'deferred');
  assert.equal(h.store.get(id2)?.state, 'deferred');
  const lines = h.lines('qmgr').join('\n');
  assert.match(
    lines,
    new RegExp(`${id}: to=<bob@remote\\.org>, relay=none, .*status=deferred \\(mail transport unavailable\\)`),
  );
  assert.match(
    lines,
    new RegExp(`${id2}: to=<bob@remote\\.org>, relay=none, .*status=deferred \\(deferred transport\\)`),
  );
});

test('a filter request without a transport is ignored with a warning and the mail routed normally', async () => {
  const h = await harness();
  const id = h.store.add({ sender: 's@example.com', recipients: ['bob@remote.org'], filter: 'nocolon' });
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests[0]?.nexthop, 'remote.org');
  assert.ok(
    h.logger.lines.some(
      (l) => l.severity === 'warning' && l.text === `${id}: ignoring bad content filter request: nocolon`,
    ),
  );
});
