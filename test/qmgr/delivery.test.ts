// qmgr(8) delivery scheduling: log line shapes, recipient grouping per
// destination, concurrency windows, process limits, defer_transports, hold
// and restart recovery — with fake agents, an in-memory store and a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './harness.js';

test('one message to two remote recipients: one batch, Postfix log lines, removed', async () => {
  const h = await harness();
  const id = h.store.add({ sender: 'alice@example.com', recipients: ['bob@remote.org', 'carol@remote.org'] });
  h.clock.advance(1200);
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 1);
  const req = h.smtp.requests[0];
  assert.equal(req?.nexthop, 'remote.org');
  assert.deepEqual(
    req?.recipients.map((r) => r.address),
    ['bob@remote.org', 'carol@remote.org'],
  );
  assert.deepEqual(h.lines('qmgr'), [`${id}: removed`]);
  const smtpLines = h.lines('smtp');
  assert.equal(smtpLines.length, 2);
  assert.match(
    smtpLines[0] ?? '',
    new RegExp(
      `^${id}: to=<bob@remote\\.org>, relay=remote\\.org\\[192\\.0\\.2\\.1\\]:25, delay=[\\d.]+, delays=[\\d.]+/[\\d.]+/0/[\\d.]+, dsn=2\\.0\\.0, status=sent \\(250 2\\.0\\.0 Ok: queued as X\\)$`,
    ),
  );
  assert.equal(h.store.messages.size, 0);
  assert.deepEqual(h.store.removed, [id]);
});

test('orig_to appears when the original recipient differs', async () => {
  const h = await harness();
  const id = h.store.add({
    sender: 's@example.com',
    recipients: [{ address: 'real@remote.org', original: 'alias@example.com' }],
  });
  await h.qmgr.whenIdle();
  assert.match(
    h.lines('smtp')[0] ?? '',
    new RegExp(`^${id}: to=<real@remote\\.org>, orig_to=<alias@example\\.com>, relay=`),
  );
});

test('recipient grouping follows default_destination_recipient_limit and local_destination_recipient_limit', async () => {
  const h = await harness();
  const rcpts = Array.from({ length: 120 }, (_, i) => `u${i}@remote.org`);
  h.store.add({ sender: 's@example.com', recipients: [...rcpts, 'a@localhost', 'b@localhost', 'c@other.net'] });
  await h.qmgr.whenIdle();
  const remote = h.smtp.requests.filter((r) => r.nexthop === 'remote.org').map((r) => r.recipients.length);
  assert.deepEqual(
    remote.sort((a, b) => b - a),
    [50, 50, 20],
  );
  assert.deepEqual(
    h.smtp.requests.filter((r) => r.nexthop === 'other.net').map((r) => r.recipients.length),
    [1],
  );
  assert.deepEqual(
    h.local.requests.map((r) => r.recipients.map((x) => x.address)),
    [['a@localhost'], ['b@localhost']],
  );
  const h2 = await harness('smtp_destination_recipient_limit = 7\n');
  h2.store.add({ sender: 's@example.com', recipients: rcpts.slice(0, 20) });
  await h2.qmgr.whenIdle();
  assert.deepEqual(
    h2.smtp.requests.map((r) => r.recipients.length).sort((a, b) => b - a),
    [7, 7, 6],
  );
});

test('per-destination concurrency starts at initial_destination_concurrency and obeys the limit', async () => {
  const h = await harness();
  h.smtp.hold();
  for (let i = 0; i < 12; i++) h.store.add({ sender: 's@example.com', recipients: [`u${i}@remote.org`] });
  // Let activation and the first deliveries start.
  for (let i = 0; i < 50 && h.smtp.inflight < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(h.smtp.inflight, 5);
  h.smtp.release();
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 12);
  assert.ok(h.smtp.maxInflight >= 5);

  const l = await harness('local_destination_concurrency_limit = 2\nlocal_destination_recipient_limit = 10\n');
  l.local.hold();
  for (let i = 0; i < 6; i++) l.store.add({ sender: 's@example.com', recipients: [`u${i}@localhost`] });
  for (let i = 0; i < 50 && l.local.inflight < 2; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(l.local.inflight, 2);
  l.local.release();
  await l.qmgr.whenIdle();
  assert.equal(l.local.maxInflight, 2);
  assert.equal(l.local.requests.length, 6);
});

test('the process limit caps deliveries across destinations', async () => {
  const h = await harness('', { maxproc: (t) => (t === 'smtp' ? 3 : undefined) });
  h.smtp.hold();
  for (let i = 0; i < 8; i++) h.store.add({ sender: 's@example.com', recipients: [`u@d${i}.example.net`] });
  for (let i = 0; i < 50 && h.smtp.inflight < 3; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(h.smtp.inflight, 3);
  h.smtp.release();
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.maxInflight, 3);
  assert.equal(h.smtp.requests.length, 8);
});

test('defer_transports defers without calling the agent', async () => {
  const h = await harness('defer_transports = smtp\n');
  const id = h.store.add({ sender: 's@example.com', recipients: ['u@remote.org'] });
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 0);
  assert.match(
    h.lines('qmgr').join('\n'),
    new RegExp(`${id}: to=<u@remote\\.org>, relay=none, .*dsn=4\\.3\\.2, status=deferred \\(deferred transport\\)`),
  );
  assert.equal(h.store.get(id)?.state, 'deferred');
  assert.equal(h.store.get(id)?.recipients[0]?.lastReason, 'deferred transport');
});

test('held mail is not delivered until released and flushed', async () => {
  const h = await harness();
  const id = h.store.add({ sender: 's@example.com', recipients: ['u@remote.org'], state: 'hold' });
  h.clock.advance(3600_000);
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 0);
  await h.store.setState(id, 'deferred', { nextAttempt: h.clock.now() + 3600_000 });
  h.qmgr.flush();
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 1);
  assert.equal(h.store.messages.size, 0);
});

test('restart recovery: active and incoming mail is delivered, held mail is left alone', async () => {
  const h = await harness('', {
    start: false,
  });
  const a = h.store.add({ sender: 's@example.com', recipients: ['a@remote.org'], state: 'active' }, false);
  const b = h.store.add({ sender: 's@example.com', recipients: ['b@remote.org'] }, false);
  const c = h.store.add({ sender: 's@example.com', recipients: ['c@remote.org'], state: 'hold' }, false);
  await h.qmgr.start();
  await h.qmgr.whenIdle();
  assert.deepEqual(h.smtp.requests.map((r) => r.recipients[0]?.address).sort(), ['a@remote.org', 'b@remote.org']);
  assert.ok(h.store.stateLog.some((s) => s.id === a && s.state === 'incoming'));
  assert.deepEqual([...h.store.messages.keys()], [c]);
  assert.ok(h.store.removed.includes(b));
});

test('recipients already done are not delivered again', async () => {
  const h = await harness();
  const id = h.store.add(
    { sender: 's@example.com', recipients: ['a@remote.org', 'b@remote.org'], state: 'deferred', nextAttempt: 0 },
    false,
  );
  const m = h.store.messages.get(id);
  if (m) m.recipients = m.recipients.map((r) => (r.index === 0 ? { ...r, done: true } : r));
  h.qmgr.flush();
  await h.qmgr.whenIdle();
  assert.deepEqual(
    h.smtp.requests.map((r) => r.recipients.map((x) => x.address)),
    [['b@remote.org']],
  );
});

test('error and discard transports from transport_maps and virtual alias domains', async () => {
  const { mapDict } = await import('../trivial-rewrite/map-dict.js');
  const h = await harness('transport_maps = hash:/t\nvirtual_alias_domains = valias.test\n', {
    tables: {
      'hash:/t': mapDict('hash:/t', {
        'drop.test': 'discard:silently',
        'nope.test': 'error:5.7.1 we do not talk to nope',
      }),
    },
  });
  const id = h.store.add({ sender: 's@example.com', recipients: ['a@drop.test', 'b@nope.test', 'c@valias.test'] });
  await h.qmgr.whenIdle();
  const all = h.logger.lines.map((l) => `${l.tag} ${l.text}`).join('\n');
  assert.match(
    all,
    new RegExp(`postfix/discard ${id}: to=<a@drop\\.test>, relay=none, .*dsn=2\\.0\\.0, status=sent \\(silently\\)`),
  );
  assert.match(
    all,
    new RegExp(
      `postfix/error ${id}: to=<b@nope\\.test>, relay=none, .*dsn=5\\.7\\.1, status=bounced \\(we do not talk to nope\\)`,
    ),
  );
  assert.match(
    all,
    new RegExp(
      `postfix/error ${id}: to=<c@valias\\.test>, relay=none, .*dsn=5\\.1\\.1, status=bounced \\(User unknown in virtual alias table\\)`,
    ),
  );
  assert.equal(h.cleanup.injected.length, 1);
  assert.match(all, new RegExp(`postfix/bounce ${id}: sender non-delivery notification: B0`));
  assert.equal(h.store.messages.size, 0);
});

test('mail put on hold during delivery stays held; deleted mail is forgotten', async () => {
  const h = await harness();
  h.smtp.script = () => ({ status: 'deferred', dsn: '4.4.2', relay: 'mx[192.0.2.1]:25', reason: 'lost connection' });
  h.smtp.hold();
  const held = h.store.add({ sender: 's@example.com', recipients: ['a@remote.org'] });
  const gone = h.store.add({ sender: 's@example.com', recipients: ['b@other.org'] });
  for (let i = 0; i < 50 && h.smtp.inflight < 2; i++) await new Promise((r) => setImmediate(r));
  await h.store.setState(held, 'hold');
  await h.store.remove(gone);
  h.smtp.release();
  await h.qmgr.whenIdle();
  assert.equal(h.store.get(held)?.state, 'hold');
  assert.equal(h.store.get(gone), undefined);
  assert.ok(!h.logger.texts().some((t) => t.startsWith('warning')), h.logger.texts().join('\n'));
});

test('flush(site) retries only mail with pending recipients in that domain', async () => {
  const h = await harness();
  const far = h.clock.now() + 86400_000;
  const a = h.store.add(
    { sender: 's@example.com', recipients: ['u@a.example.net'], state: 'deferred', nextAttempt: far },
    false,
  );
  const b = h.store.add(
    { sender: 's@example.com', recipients: ['u@b.example.org'], state: 'deferred', nextAttempt: far },
    false,
  );
  h.qmgr.flush('example.net');
  await h.qmgr.whenIdle();
  assert.deepEqual(
    h.smtp.requests.map((r) => r.nexthop),
    ['a.example.net'],
  );
  assert.equal(h.store.get(a), undefined);
  assert.equal(h.store.get(b)?.state, 'deferred');
});

test('stop lets deliveries in progress finish and takes no new mail', async () => {
  const h = await harness();
  h.smtp.hold();
  const a = h.store.add({ sender: 's@example.com', recipients: ['u@remote.org'] });
  for (let i = 0; i < 50 && h.smtp.inflight < 1; i++) await new Promise((r) => setImmediate(r));
  const stopping = h.qmgr.stop();
  const b = h.store.add({ sender: 's@example.com', recipients: ['v@remote.org'] });
  h.smtp.release();
  await stopping;
  assert.equal(h.store.get(a), undefined, 'the delivery in progress completed');
  assert.equal(h.store.get(b)?.state, 'incoming', 'new mail waits for the next start');
  assert.equal(h.smtp.requests.length, 1);
  assert.equal(h.store.listeners.length, 0, 'a stopped scheduler (reload) leaves no commit listener behind');
});

test('destinations take turns when the transport process limit is the bottleneck', async () => {
  const h = await harness('smtp_destination_recipient_limit = 2\n', { maxproc: () => 1 });
  h.store.add({ sender: 's@example.com', recipients: Array.from({ length: 20 }, (_, i) => `u${i}@a.test`) });
  h.store.add({ sender: 's@example.com', recipients: ['v@b.test'] });
  await h.qmgr.whenIdle();
  const order = h.smtp.requests.map((r) => r.nexthop);
  assert.equal(order.length, 11);
  assert.ok(order.indexOf('b.test') < 4, order.join(' '));
});

test('a store failure during activation is logged and does not pin the message', async () => {
  const h = await harness();
  const real = h.store.setState.bind(h.store);
  let failures = 1;
  h.store.setState = (id, state, opts) => {
    if (state === 'active' && failures-- > 0) return Promise.reject(new Error('EIO: write failed'));
    return real(id, state, opts);
  };
  const id = h.store.add({ sender: 's@example.com', recipients: ['u@remote.org'] });
  await h.qmgr.whenIdle();
  assert.ok(h.logger.texts().includes(`warning: ${id}: cannot activate: EIO: write failed`));
  assert.equal(h.store.get(id)?.state, 'deferred');
  assert.equal(h.smtp.requests.length, 0);
  h.qmgr.flush();
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 1);
  assert.equal(h.store.messages.size, 0);
});

test('destination_rate_delay spaces deliveries to one destination', async () => {
  const h = await harness('smtp_destination_rate_delay = 10s\n');
  for (let i = 0; i < 3; i++) h.store.add({ sender: 's@example.com', recipients: [`u${i}@remote.org`] });
  h.store.add({ sender: 's@example.com', recipients: ['x@other.org'] });
  for (let i = 0; i < 100 && h.smtp.requests.length < 2; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  // One to each destination; the second remote.org delivery waits for the pause.
  assert.deepEqual(h.smtp.requests.map((r) => r.nexthop).sort(), ['other.org', 'remote.org']);
  h.clock.advance(9_000);
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.equal(h.smtp.requests.length, 2);
  h.clock.advance(1_000);
  for (let i = 0; i < 100 && h.smtp.requests.length < 3; i++) await new Promise((r) => setImmediate(r));
  assert.equal(h.smtp.requests.length, 3);
  // Let the third delivery finish and arm its pause before time moves on.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  h.clock.advance(10_000);
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 4);
  assert.equal(h.store.messages.size, 0);
});

test('a malformed recipient domain bounces with 5.1.3 bad address syntax', async () => {
  const h = await harness();
  const id = h.store.add({ sender: 's@example.com', recipients: ['u@192.0.2.1', 'ok@remote.org'] });
  await h.qmgr.whenIdle();
  assert.ok(
    h
      .lines('qmgr')
      .some(
        (l) =>
          l.startsWith(`${id}: to=<u@192.0.2.1>, relay=none,`) &&
          l.endsWith('dsn=5.1.3, status=bounced (bad address syntax)'),
      ),
  );
  assert.deepEqual(
    h.smtp.requests.map((r) => r.nexthop),
    ['remote.org'],
  );
  assert.equal(h.cleanup.injected.length, 1);
  assert.equal(h.store.messages.size, 0);
});
