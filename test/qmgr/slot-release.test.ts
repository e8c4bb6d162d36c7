// qmgr(8) frees a destination's delivery slot as soon as the agent answers,
// as Postfix's qmgr does: the queue file updates that follow (outcome
// records, removal) must not hold up the destination's next delivery. With
// local_destination_concurrency_limit = 1 and the store's outcome and removal
// writes held open, the second message to the same user is still handed to the agent,
// and never more than one delivery runs at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './harness.js';

test('the next delivery to a destination starts while the previous outcome is still being recorded', async () => {
  const h = await harness('local_destination_concurrency_limit = 1\n');
  const held: (() => void)[] = [];
  // The updates after a delivery: outcome records, or (when the round ends in removal) the removal itself.
  const record = h.store.recordOutcomes.bind(h.store);
  const remove = h.store.remove.bind(h.store);
  const hold = (update: () => Promise<void>): Promise<void> =>
    new Promise<void>((resolve, reject) =>
      held.push(() => {
        update().then(resolve, reject);
      }),
    );
  h.store.recordOutcomes = (id, outcomes) => hold(() => record(id, outcomes));
  h.store.remove = (id) => hold(() => remove(id));
  const ids = [0, 1, 2].map(() => h.store.add({ sender: 's@example.com', recipients: ['user@localhost'] }));
  for (let i = 0; i < 200 && h.local.requests.length < 3; i++) await new Promise((r) => setImmediate(r));
  assert.equal(h.local.requests.length, 3, 'all three handed to the agent before any outcome was recorded');
  assert.equal(h.local.maxInflight, 1, 'the concurrency limit still holds');
  assert.equal(h.store.removed.length, 0, 'nothing has left the queue: every update after a delivery is held');
  for (let i = 0; i < 200 && (held.length > 0 || h.store.removed.length < 3); i++) {
    for (const f of held.splice(0)) f();
    await new Promise((r) => setImmediate(r));
  }
  await h.qmgr.whenIdle();
  assert.deepEqual([...h.store.removed].sort(), [...ids].sort());
});

test('an agent that holds destinations itself (queuedAhead) is handed that many beyond the window', async () => {
  const h = await harness('local_destination_concurrency_limit = 1\n');
  Object.assign(h.local, { queuedAhead: 2 });
  h.local.hold();
  for (let i = 0; i < 5; i++) h.store.add({ sender: 's@example.com', recipients: ['user@localhost'] });
  for (let i = 0; i < 200 && h.local.inflight < 3; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(h.local.inflight, 3, 'window 1 + 2 ahead');
  h.local.release();
  await h.qmgr.whenIdle();
  assert.equal(h.local.maxInflight, 3);
  assert.equal(h.store.removed.length, 5);
});
