// The end of a round that removes the message: the last batch's outcomes are
// not written (the removal record makes them moot), earlier batches' are, and
// when the removal fails the sent recipients are recorded after all, so a
// retry does not deliver to them again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecipientOutcome } from '../../src/global/queue/delivery-api.js';
import { harness } from './harness.js';

function countRecords(h: Awaited<ReturnType<typeof harness>>): { id: string; outcomes: readonly RecipientOutcome[] }[] {
  const calls: { id: string; outcomes: readonly RecipientOutcome[] }[] = [];
  const record = h.store.recordOutcomes.bind(h.store);
  h.store.recordOutcomes = (id, outcomes) => {
    calls.push({ id, outcomes });
    return record(id, outcomes);
  };
  return calls;
}

test('a message delivered in one batch is removed without an outcome record; earlier batches are recorded', async () => {
  const h = await harness();
  const calls = countRecords(h);
  const one = h.store.add({ sender: 's@example.com', recipients: ['a@remote.example', 'b@remote.example'] });
  await h.qmgr.whenIdle();
  assert.deepEqual(h.store.removed, [one]);
  assert.equal(calls.length, 0, 'the removal alone ends the round');
  assert.match(h.lines('qmgr').join('\n'), new RegExp(`${one}: removed`));

  // Three local users: three batches (local_destination_recipient_limit = 1); all but the last are recorded.
  const three = h.store.add({
    sender: 's@example.com',
    recipients: ['u1@localhost', 'u2@localhost', 'u3@localhost'],
  });
  await h.qmgr.whenIdle();
  assert.deepEqual(h.store.removed, [one, three]);
  assert.equal(calls.length, 2);
  assert.ok(calls.every((c) => c.id === three && c.outcomes.length === 1 && c.outcomes[0]?.status === 'sent'));
});

test('outcomes are still recorded when the round does not end in removal (a deferred recipient)', async () => {
  const h = await harness();
  const calls = countRecords(h);
  h.smtp.script = (_req, r) =>
    r.address.startsWith('later')
      ? { status: 'deferred', dsn: '4.2.0', relay: 'mx[192.0.2.1]:25', reason: 'try again' }
      : { status: 'sent', dsn: '2.0.0', relay: 'mx[192.0.2.1]:25', reason: '250 ok' };
  const id = h.store.add({ sender: 's@example.com', recipients: ['now@remote.example', 'later@remote.example'] });
  await h.qmgr.whenIdle();
  assert.equal(h.store.removed.length, 0);
  assert.equal(calls.length, 1);
  const m = h.store.get(id);
  assert.equal(m?.state, 'deferred');
  assert.deepEqual(
    m?.recipients.map((r) => r.done),
    [true, false],
  );
});

test('a failed removal records the sent recipients and defers the message: they are not delivered again', async () => {
  const h = await harness();
  const remove = h.store.remove.bind(h.store);
  let failures = 1;
  h.store.remove = (id) => (failures-- > 0 ? Promise.reject(new Error('disk trouble')) : remove(id));
  const id = h.store.add({ sender: 's@example.com', recipients: ['a@remote.example'] });
  await h.qmgr.whenIdle();
  assert.match(h.lines('qmgr').join('\n'), /cannot complete queue file update: disk trouble/);
  const m = h.store.get(id);
  assert.equal(m?.state, 'deferred');
  assert.equal(m?.recipients[0]?.done, true, 'the sent recipient is on record');
  h.qmgr.flush();
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, 1, 'not delivered a second time');
  assert.deepEqual(h.store.removed, [id]);
});
