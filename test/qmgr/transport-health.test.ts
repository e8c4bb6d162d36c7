// transport_retry_time (a broken or missing delivery transport is left alone
// for that long, its mail deferred at once) and qmgr_clog_warn_time (the
// "mail for X is using up N of M active queue entries" warnings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './harness.js';

const oneAtATime = { maxproc: (t: string) => (t === 'smtp' ? 1 : undefined) };

test('a delivery agent that fails suspends its transport for transport_retry_time, then is probed again', async () => {
  const h = await harness('transport_retry_time = 60s\n', oneAtATime);
  let broken = true;
  h.smtp.script = (req) => {
    if (broken) throw new Error('agent process crashed');
    return { status: 'sent', dsn: '2.0.0', relay: `${req.nexthop}[192.0.2.1]:25`, reason: '250 Ok' };
  };
  const a = h.store.add({ sender: 's@example.com', recipients: ['x@one.example', 'y@two.example', 'z@three.example'] });
  await h.qmgr.whenIdle();
  // One call failed; the other two destinations were deferred without calling the agent.
  assert.equal(h.smtp.requests.length, 1);
  assert.equal(
    h.lines('qmgr').filter((l) => l.includes('smtp delivery agent failed: agent process crashed')).length,
    1,
  );
  const deferred = h.logger.texts().filter((l) => l.startsWith(`${a}: to=<`));
  assert.equal(deferred.length, 3);
  for (const l of deferred) assert.match(l, /dsn=4\.3\.0, status=deferred \(unknown mail transport error\)$/);

  // New mail within the retry time does not reach the agent either.
  broken = false;
  h.clock.advance(30_000);
  const b = h.store.add({ sender: 's@example.com', recipients: ['w@four.example'] });
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 1);
  assert.match(
    h.lines('qmgr').find((l) => l.startsWith(`${b}: to=`)) ?? '',
    /status=deferred \(unknown mail transport error\)/,
  );

  // After transport_retry_time the transport is tried again.
  h.clock.advance(31_000);
  const c = h.store.add({ sender: 's@example.com', recipients: ['v@five.example'] });
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 2);
  assert.match(h.lines('smtp').find((l) => l.startsWith(`${c}: to=`)) ?? '', /status=sent/);
});

test('a transport without an agent defers but is not suspended: an agent that appears gets the next message', async () => {
  const h = await harness();
  const a = h.store.add({ sender: 's@example.com', recipients: ['x@one.example'], filter: 'scan:[127.0.0.1]:10025' });
  await h.qmgr.whenIdle();
  assert.match(h.lines('qmgr').find((l) => l.startsWith(`${a}: to=`)) ?? '', /\(mail transport unavailable\)$/);
  h.agents.set('scan', h.smtp);
  const b = h.store.add({ sender: 's@example.com', recipients: ['y@one.example'], filter: 'scan:[127.0.0.1]:10025' });
  await h.qmgr.whenIdle();
  assert.deepEqual(
    h.smtp.requests.map((r) => [r.queueId, r.transport, r.nexthop]),
    [[b, 'scan', '[127.0.0.1]:10025']],
  );
});

test('postqueue -f forgets a suspended transport', async () => {
  const h = await harness('', oneAtATime);
  let broken = true;
  h.smtp.script = (req) => {
    if (broken) throw new Error('down');
    return { status: 'sent', dsn: '2.0.0', relay: `${req.nexthop}[192.0.2.1]:25`, reason: '250 Ok' };
  };
  const a = h.store.add({ sender: 's@example.com', recipients: ['x@one.example'] });
  await h.qmgr.whenIdle();
  broken = false;
  h.qmgr.flush();
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 2);
  assert.equal(h.store.get(a), undefined);
});

test('one destination filling the active queue is warned about once per qmgr_clog_warn_time', async () => {
  const h = await harness('qmgr_message_active_limit = 5\nqmgr_clog_warn_time = 300s\n', oneAtATime);
  h.smtp.hold();
  for (let i = 0; i < 5; i++) h.store.add({ sender: 's@example.com', recipients: [`u${i}@clogged.example`] });
  for (let i = 0; i < 50 && h.smtp.requests.length === 0; i++) await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  const warnings = (): string[] => h.logger.lines.filter((l) => l.severity === 'warning').map((l) => l.text);
  const first = warnings();
  // How many are still waiting (not yet handed to the agent) depends on when the first delivery started.
  assert.match(first[0] ?? '', /^mail for clogged\.example is using up [45] of 5 active queue entries$/);
  // Then Postfix's hints: here the single destination is neither concurrency- nor transport-bound.
  assert.ok(first.length >= 2, first.join('\n'));
  assert.ok(
    first.includes('you may need to increase the main.cf qmgr_message_active_limit from 5') ||
      first.includes('you may need to reduce smtp connect and helo timeouts'),
    first.join('\n'),
  );
  h.smtp.release();
  await h.qmgr.whenIdle();
  // Clogged again within the interval: no second warning for the same destination.
  h.smtp.hold();
  for (let i = 0; i < 5; i++) h.store.add({ sender: 's@example.com', recipients: [`v${i}@clogged.example`] });
  for (let i = 0; i < 50 && h.smtp.requests.length < 6; i++) await new Promise((r) => setImmediate(r));
  h.smtp.release();
  await h.qmgr.whenIdle();
  assert.deepEqual(warnings(), first);
});

test('no clog warnings with qmgr_clog_warn_time = 0 or helpful_warnings = no', async () => {
  for (const cf of ['qmgr_clog_warn_time = 0\n', 'helpful_warnings = no\n']) {
    const h = await harness(`qmgr_message_active_limit = 5\n${cf}`, oneAtATime);
    h.smtp.hold();
    for (let i = 0; i < 5; i++) h.store.add({ sender: 's@example.com', recipients: [`u${i}@clogged.example`] });
    for (let i = 0; i < 50 && h.smtp.requests.length === 0; i++) await new Promise((r) => setImmediate(r));
    h.smtp.release();
    await h.qmgr.whenIdle();
    assert.equal(h.smtp.requests.length, 5);
    assert.deepEqual(
      h.logger.lines.filter((l) => l.severity === 'warning'),
      [],
    );
  }
});
