// qmgr(8) retry behaviour: backoff doubling between minimal_backoff_time and
// maximal_backoff_time, the deferred-queue scan every queue_run_delay,
// expiry into a bounce, delay warnings, and dead destinations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './harness.js';
import type { Script } from './fakes.js';
import { backoffDelay } from '../../src/daemons/qmgr/backoff.js';

const refused: Script = () => ({
  status: 'deferred',
  dsn: '4.4.1',
  relay: 'none',
  reason: 'connect to remote.org[192.0.2.1]:25: Connection refused',
});
const greylisted: Script = (req) => ({
  status: 'deferred',
  dsn: '4.7.1',
  relay: `${req.nexthop}[192.0.2.1]:25`,
  reason: `host ${req.nexthop}[192.0.2.1] said: 450 4.7.1 try later (in reply to RCPT TO command)`,
  remoteReply: '450 4.7.1 try later',
});

test('backoff: age clamped to minimal/maximal_backoff_time', () => {
  const p = { minBackoff: 300, maxBackoff: 4000, maxLifetime: 432000, bounceLifetime: 432000, delayWarning: 0 };
  assert.equal(backoffDelay(p, 0, 10_000), 300_000);
  assert.equal(backoffDelay(p, 0, 1000_000), 1000_000);
  assert.equal(backoffDelay(p, 0, 9000_000), 4000_000);
});

test('deferred mail is retried by the queue_run_delay scan once its time has come, with doubling waits', async () => {
  const h = await harness();
  h.smtp.script = greylisted;
  const t0 = h.clock.now();
  const id = h.store.add({ sender: 's@example.com', recipients: ['u@remote.org'] });
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 1);
  assert.equal(h.store.get(id)?.state, 'deferred');
  assert.equal(h.store.get(id)?.nextAttempt, t0 + 300_000);
  assert.match(h.store.get(id)?.recipients[0]?.lastReason ?? '', /450 4\.7\.1 try later/);
  // Not yet due: a scan before 300 s leaves it alone.
  h.clock.advance(299_000);
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 1);
  // The scan at queue_run_delay (300 s) finds it due.
  h.clock.advance(1_000);
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 2);
  // Age is now 300 s, so the next wait is 300 s again; after that 600 s, then 1200 s...
  const waits: number[] = [];
  let last = h.clock.now();
  for (let round = 0; round < 6; round++) {
    const next = h.store.get(id)?.nextAttempt ?? 0;
    waits.push((next - last) / 1000);
    h.clock.advance(next - h.clock.now() + 300_000);
    await h.qmgr.whenIdle();
    last = h.clock.now();
  }
  // Each wait is the message's age at that attempt, capped at 4000 s.
  assert.equal(waits[0], 300);
  for (const w of waits) assert.ok(w >= 300 && w <= 4000, `wait ${w}`);
  assert.ok(waits.includes(4000));
  assert.ok(waits.slice(1).every((w, i) => w >= (waits[i] ?? 0)));
});

test('expired mail is returned to the sender with the last reason, then removed', async () => {
  const h = await harness('maximal_queue_lifetime = 1d\n');
  h.smtp.script = greylisted;
  const id = h.store.add({
    sender: 'alice@example.com',
    recipients: ['u@remote.org'],
    state: 'deferred',
    arrivalTime: h.clock.now() - 2 * 86400_000,
    nextAttempt: 0,
  });
  h.qmgr.flush();
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 1, 'one last attempt is made');
  assert.ok(h.lines('qmgr').includes(`${id}: from=<alice@example.com>, status=expired, returned to sender`));
  assert.ok(h.lines('qmgr').includes(`${id}: removed`));
  assert.equal(h.cleanup.injected.length, 1);
  const notice = h.cleanup.injected[0];
  assert.equal(notice?.req.sender, '');
  assert.deepEqual(
    notice?.recipients.map((r) => r.address),
    ['alice@example.com'],
  );
  assert.match(
    notice?.content ?? '',
    /Action: failed\r\nStatus: 4\.7\.1\r\nRemote-MTA: dns; remote\.org\r\nDiagnostic-Code: smtp; 450 4\.7\.1 try later/,
  );
  assert.equal(h.store.messages.size, 0);
});

test('bounce_queue_lifetime applies to mail from the null sender', async () => {
  const h = await harness('bounce_queue_lifetime = 1h\nnotify_classes = resource, software, 2bounce\n');
  h.smtp.script = greylisted;
  const id = h.store.add({ sender: '', recipients: ['u@remote.org'], arrivalTime: h.clock.now() - 2 * 3600_000 });
  await h.qmgr.whenIdle();
  assert.ok(h.lines('qmgr').includes(`${id}: from=<>, status=expired, returned to sender`));
  // A bounce that bounces goes to the postmaster (2bounce), from the double-bounce address.
  assert.equal(h.cleanup.injected.length, 1);
  assert.equal(h.cleanup.injected[0]?.req.sender, 'double-bounce@mail.example.com');
  assert.deepEqual(
    h.cleanup.injected[0]?.recipients.map((r) => r.address),
    ['postmaster'],
  );
  assert.match(h.cleanup.injected[0]?.content ?? '', /Subject: Postmaster Copy: Undelivered Mail/);
});

test('delay_warning_time sends one delay notice', async () => {
  const h = await harness('delay_warning_time = 4h\n');
  h.smtp.script = greylisted;
  const id = h.store.add({
    sender: 'alice@example.com',
    recipients: ['u@remote.org'],
    arrivalTime: h.clock.now() - 5 * 3600_000,
  });
  await h.qmgr.whenIdle();
  assert.equal(h.cleanup.injected.length, 1);
  const c = h.cleanup.injected[0]?.content ?? '';
  assert.match(c, /Subject: Delayed Mail \(still being retried\)/);
  assert.match(c, /Action: delayed\r\nStatus: 4\.7\.1/);
  assert.match(c, /Will-Retry-Until: /);
  assert.match(c, /Content-Type: text\/rfc822-headers/);
  assert.equal(h.store.get(id)?.warned, true);
  h.qmgr.flush();
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 2);
  assert.equal(h.cleanup.injected.length, 1, 'no second warning');
  assert.ok(h.lines('bounce').includes(`${id}: sender delay notification: B0`));
});

test('a destination that refuses connections is suspended: queued batches defer without attempts', async () => {
  const h = await harness('initial_destination_concurrency = 2\n');
  h.smtp.script = refused;
  h.smtp.hold();
  const ids = Array.from({ length: 6 }, (_, i) =>
    h.store.add({ sender: 's@example.com', recipients: [`u${i}@remote.org`] }),
  );
  for (let i = 0; i < 50 && h.smtp.inflight < 2; i++) await new Promise((r) => setImmediate(r));
  h.smtp.release();
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 2, 'only the first cohort is tried');
  const suspended = h
    .lines('qmgr')
    .filter((l) =>
      l.includes(
        'status=deferred (delivery temporarily suspended: connect to remote.org[192.0.2.1]:25: Connection refused)',
      ),
    );
  assert.equal(suspended.length, 4);
  for (const id of ids) assert.equal(h.store.get(id)?.state, 'deferred');
  // New mail for the dead destination is deferred at once too.
  h.store.add({ sender: 's@example.com', recipients: ['late@remote.org'] });
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 2);
  // After minimal_backoff_time the destination is probed again.
  h.smtp.script = (req) => ({ status: 'sent', dsn: '2.0.0', relay: `${req.nexthop}[192.0.2.1]:25`, reason: '250 ok' });
  h.clock.advance(3600_000);
  await h.qmgr.whenIdle();
  assert.equal(h.store.messages.size, 0);
});

test('a bounced recipient gets a non-delivery notice and the message is removed; NOTIFY=NEVER gets none', async () => {
  const h = await harness();
  h.smtp.script = (req, r) =>
    r.address.startsWith('never')
      ? {
          status: 'bounced',
          dsn: '5.1.1',
          relay: `${req.nexthop}[192.0.2.1]:25`,
          reason: 'user unknown',
          remoteReply: '550 5.1.1 no',
        }
      : {
          status: 'bounced',
          dsn: '5.1.1',
          relay: `${req.nexthop}[192.0.2.1]:25`,
          reason: 'host said: 550 5.1.1 no',
          remoteReply: '550 5.1.1 no',
        };
  h.store.add({ sender: 'a@example.com', recipients: [{ address: 'never@remote.org', notify: ['NEVER'] }] });
  await h.qmgr.whenIdle();
  assert.equal(h.cleanup.injected.length, 0);
  assert.equal(h.store.messages.size, 0);
  h.store.add({ sender: 'a@example.com', recipients: ['x@remote.org'] });
  await h.qmgr.whenIdle();
  assert.equal(h.cleanup.injected.length, 1);
  assert.match(h.lines('bounce')[0] ?? '', /: sender non-delivery notification: B0$/);
});

test('a failing bounce service leaves bounced recipients pending for the next run', async () => {
  const h = await harness();
  h.smtp.script = () => ({ status: 'bounced', dsn: '5.1.1', relay: 'none', reason: 'nope' });
  h.cleanup.open = () => Promise.reject(new Error('cleanup unavailable'));
  const id = h.store.add({ sender: 'a@example.com', recipients: ['x@remote.org'] });
  await h.qmgr.whenIdle();
  assert.equal(h.store.get(id)?.state, 'deferred');
  assert.equal(h.store.get(id)?.recipients[0]?.done, false);
  assert.ok(h.logger.texts().some((t) => t.startsWith(`warning: ${id}: cannot complete`)));
});

test('success notices for NOTIFY=SUCCESS', async () => {
  const h = await harness();
  const id = h.store.add({
    sender: 'a@example.com',
    recipients: [{ address: 'x@remote.org', notify: ['SUCCESS'] }, 'y@remote.org'],
  });
  await h.qmgr.whenIdle();
  assert.equal(h.cleanup.injected.length, 1);
  const c = h.cleanup.injected[0]?.content ?? '';
  assert.match(c, /Subject: Successful Mail Delivery Report/);
  assert.match(c, /Final-Recipient: rfc822; x@remote\.org\r\nAction: delivered\r\nStatus: 2\.0\.0/);
  assert.doesNotMatch(c, /y@remote\.org/);
  assert.ok(h.lines('bounce').includes(`${id}: sender delivery status notification: B0`));
});

test('success notices follow the agent: "relayed" for a next hop without DSN, none when the next hop got NOTIFY', async () => {
  const h = await harness();
  h.smtp.script = (req, r) => ({
    status: 'sent',
    dsn: '2.0.0',
    relay: `${req.nexthop}[192.0.2.1]:25`,
    reason: '250 2.0.0 Ok',
    dsnSuccess: r.address.startsWith('old@') ? 'relayed' : 'passed-on',
  });
  const id = h.store.add({
    sender: 'a@example.com',
    recipients: [
      { address: 'old@legacy.org', notify: ['SUCCESS'] },
      { address: 'new@modern.org', notify: ['SUCCESS'] },
    ],
  });
  await h.qmgr.whenIdle();
  assert.equal(h.cleanup.injected.length, 1, 'one notice');
  const c = h.cleanup.injected[0]?.content ?? '';
  assert.match(c, /Final-Recipient: rfc822; old@legacy\.org\r\nAction: relayed\r\n/);
  assert.doesNotMatch(c, /new@modern\.org/);
  assert.ok(h.lines('bounce').includes(`${id}: sender delivery status notification: B0`));
});

test('force-expired mail (postsuper -e/-f) is returned without an attempt, with the last delay reason', async () => {
  const h = await harness();
  h.smtp.script = greylisted;
  const id = h.store.add({ sender: 'alice@example.com', recipients: ['u@remote.org'] });
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 1);
  assert.equal(h.store.get(id)?.state, 'deferred');
  await h.store.setState(id, 'deferred', { expired: true, nextAttempt: h.clock.now() });
  const fresh = h.store.add({ sender: 'bob@example.com', recipients: ['v@remote.org'] }, false);
  await h.store.setState(fresh, 'deferred', { expired: true, nextAttempt: h.clock.now() });
  h.qmgr.flush();
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 1, 'no delivery attempt for force-expired mail');
  assert.ok(h.lines('qmgr').includes(`${id}: from=<alice@example.com>, status=force-expired, returned to sender`));
  assert.equal(h.store.messages.size, 0);
  const notices = h.cleanup.injected.map((n) => ({ to: n.recipients.map((r) => r.address), content: n.content }));
  const alice = notices.find((n) => n.to.includes('alice@example.com'));
  const bob = notices.find((n) => n.to.includes('bob@example.com'));
  assert.match(alice?.content ?? '', /450 4\.7\.1 try later/);
  assert.match(bob?.content ?? '', /message is administratively expired/);
  assert.match(bob?.content ?? '', /Status: 4\.7\.0/);
});
