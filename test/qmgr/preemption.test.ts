// qmgr(8)'s preemptive scheduling (delivery slots) and recipient refill:
// a one-recipient message queued behind a 5,000-recipient list to the same
// transport and destination is delivered next, not after the list; the slot
// cost, loan and minimum change when that happens; a message larger than the
// in-memory recipient limits is read in slices and still delivered whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, type Harness } from './harness.js';

/** Let promise chains run until `cond` holds (bounded). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 5000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const oneAtATime = { maxproc: (t: string) => (t === 'smtp' ? 1 : undefined) };

/**
 * The list is in delivery (its first batch held open) when the small
 * messages arrive; then everything runs one delivery at a time. Returns the
 * position of each small message's delivery among all deliveries.
 */
async function listThenSmall(h: Harness, listSize: number, small: number): Promise<{ list: string; at: number[] }> {
  h.smtp.hold();
  const rcpts = Array.from({ length: listSize }, (_, i) => `member${i}@lists.example.net`);
  const list = h.store.add({ sender: 'owner@example.com', recipients: rcpts });
  await until(() => h.smtp.requests.length === 1, 'the first batch of the list');
  const ids: string[] = [];
  for (let i = 0; i < small; i++) {
    ids.push(h.store.add({ sender: `s${i}@example.com`, recipients: [`friend${i}@lists.example.net`] }));
  }
  await until(() => ids.every((id) => h.store.get(id)?.state === 'active'), 'the small messages to be active');
  // Their recipients are being resolved: a few more turns and they wait in the scheduler.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  h.smtp.release();
  await h.qmgr.whenIdle();
  const order = h.smtp.requests.map((r) => r.queueId);
  return { list, at: ids.map((id) => order.indexOf(id)) };
}

test('small messages preempt a 5,000-recipient list to the same destination', async () => {
  const h = await harness('', oneAtATime);
  const { list, at } = await listThenSmall(h, 5000, 5);
  // 5,000 recipients in batches of default_destination_recipient_limit (50), plus the five.
  assert.equal(h.smtp.requests.length, 105);
  assert.deepEqual(at, [1, 2, 3, 4, 5]);
  assert.equal(h.smtp.requests.at(-1)?.queueId, list);
  const delivered = h.smtp.requests
    .filter((r) => r.queueId === list)
    .flatMap((r) => r.recipients.map((x) => x.address));
  assert.equal(new Set(delivered).size, 5000);
  assert.equal(h.store.messages.size, 0);
});

test('the loan runs out: after a few preemptions the list earns one per delivery_slot_cost batches', async () => {
  const h = await harness('', oneAtATime);
  const { at } = await listThenSmall(h, 5000, 8);
  // Slots are paid in full and counted with C's integer division: with a loan
  // of 3 and a cost of 5 the list may go 24 batches into debt, so five small
  // messages go at once; after that each waits until the list has paid back
  // to -19, five list batches, then preempts again.
  assert.deepEqual(at, [1, 2, 3, 4, 5, 11, 17, 23]);
});

test('default_delivery_slot_cost = 0 turns preemption off: the list goes first, in full', async () => {
  const h = await harness('default_delivery_slot_cost = 0\n', oneAtATime);
  const { at } = await listThenSmall(h, 5000, 3);
  assert.deepEqual(at, [100, 101, 102]);
});

test('a list too small to earn minimum_delivery_slots is never preempted', async () => {
  // 600 recipients = 12 batches; with cost 5 that is 2 slots, below smtp_minimum_delivery_slots = 3.
  const h = await harness('smtp_minimum_delivery_slots = 3\n', oneAtATime);
  const { at } = await listThenSmall(h, 600, 2);
  assert.deepEqual(at, [12, 13]);
  const h2 = await harness('smtp_minimum_delivery_slots = 2\n', oneAtATime);
  const r2 = await listThenSmall(h2, 600, 2);
  assert.deepEqual(r2.at, [1, 2]);
});

test('a list beyond the recipient limits is read in slices and refilled until it is delivered whole', async () => {
  const h = await harness(
    'qmgr_message_recipient_limit = 100\nqmgr_message_recipient_minimum = 10\n' +
      'smtp_recipient_limit = 120\nsmtp_extra_recipient_limit = 0\nsmtp_recipient_refill_limit = 50\n',
    oneAtATime,
  );
  h.smtp.hold();
  const rcpts = Array.from({ length: 1000 }, (_, i) => `member${i}@lists.example.net`);
  const id = h.store.add({ sender: 'owner@example.com', recipients: rcpts });
  await until(() => h.smtp.requests.length === 1, 'the first batch');
  // Only the first slice is in memory: two batches of 50, one of them in delivery.
  assert.equal(h.smtp.requests[0]?.recipients.length, 50);
  assert.equal(h.qmgr.inMemoryRecipients(), 100);
  h.smtp.release();
  await h.qmgr.whenIdle();
  const delivered = h.smtp.requests.flatMap((r) => r.recipients.map((x) => x.address));
  assert.equal(delivered.length, 1000);
  assert.equal(new Set(delivered).size, 1000);
  assert.ok(h.smtp.requests.every((r) => r.recipients.length <= 50));
  assert.deepEqual(h.store.removed, [id]);
  assert.deepEqual(h.lines('qmgr'), [`${id}: removed`]);
  assert.equal(h.qmgr.inMemoryRecipients(), 0);
});

test('with the recipient limit filled by a list, new mail gets in as the list frees room, before the list ends', async () => {
  const h = await harness('qmgr_message_recipient_limit = 100\n', oneAtATime);
  h.smtp.hold();
  const rcpts = Array.from({ length: 1000 }, (_, i) => `member${i}@lists.example.net`);
  const list = h.store.add({ sender: 'owner@example.com', recipients: rcpts });
  await until(() => h.smtp.requests.length === 1, 'the first batch of the list');
  const small = [0, 1].map((i) => h.store.add({ sender: 's@example.com', recipients: [`f${i}@lists.example.net`] }));
  // The list holds all 100 in-memory recipients: nothing else is admitted yet.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.ok(small.every((id) => h.store.get(id)?.state === 'incoming'));
  h.smtp.release();
  await h.qmgr.whenIdle();
  const order = h.smtp.requests.map((r) => r.queueId);
  assert.equal(order.length, 22);
  for (const id of small) assert.ok(order.indexOf(id) < 5, `${id} at ${order.indexOf(id)}`);
  assert.equal(order.at(-1), list);
});
