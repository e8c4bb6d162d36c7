// Queue store round trips: what commit/setState/recordOutcomes/remove wrote is
// what a restart rebuilds; active mail goes back to incoming (Postfix's rule).
import { test } from 'node:test';
import { readStoreSnapshot } from '../../src/commands/postqueue/queue-snapshot.js';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { QueueLockError } from '../../src/global/queue/queue-lock.js';
import { isQueueId, QueueIdGenerator } from '../../src/global/queue/queue-id.js';
import { contentIsIntact, newMessage, openStore, readAll, selfCheckingContent, tempQueueDir } from './helpers.js';

test('queue IDs: short and long forms are well formed and unique', () => {
  for (const long of [false, true]) {
    const g = new QueueIdGenerator(long);
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = g.next();
      assert.ok(isQueueId(id), `${id} has queue ID shape`);
      assert.match(id, long ? /^[0-9A-Za-z]{10}z[0-9A-Za-y]+$/ : /^[0-9A-F]{10,}$/);
      seen.add(id);
    }
    assert.equal(seen.size, 2000);
  }
});

test('a committed message survives a restart with envelope, content and state changes', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir);
    const committed: string[] = [];
    store.onCommitted((id) => committed.push(id));
    const a = store.newQueueId();
    const b = store.newQueueId();
    const c = store.newQueueId();
    await store.enqueue(
      { ...newMessage(a, ['x@example.org', 'y@example.org']), envid: 'E1', ret: 'HDRS' },
      selfCheckingContent(a, 100_000),
    );
    await store.enqueue({ ...newMessage(b), verifyOnly: true }, selfCheckingContent(b));
    await store.enqueue(newMessage(c), selfCheckingContent(c));
    assert.deepEqual(committed, [a, b, c]);
    await store.setState(a, 'active');
    await store.recordOutcomes(a, [
      { index: 0, status: 'sent', dsn: '2.0.0', relay: 'local', reason: 'delivered' },
      { index: 1, status: 'deferred', dsn: '4.4.1', relay: 'none', reason: 'connection refused' },
    ]);
    await store.setState(a, 'deferred', { nextAttempt: 12345 });
    await store.setState(b, 'hold');
    await store.remove(c);
    await store.close();

    const { store: again, log } = await openStore(dir);
    try {
      assert.equal(again.get(c), undefined);
      const ma = again.get(a);
      assert.ok(ma);
      assert.equal(ma.state, 'deferred');
      assert.equal(ma.nextAttempt, 12345);
      assert.equal(ma.envid, 'E1');
      assert.equal(ma.ret, 'HDRS');
      assert.deepEqual(
        ma.recipients.map((r) => [r.address, r.done, r.lastReason]),
        [
          ['x@example.org', true, undefined],
          ['y@example.org', false, 'connection refused'],
        ],
      );
      assert.equal(again.get(b)?.state, 'hold');
      assert.equal(again.get(b)?.verifyOnly, true, 'sendmail -bv flag survives the restart');
      assert.equal(ma.verifyOnly, undefined);
      const content = await readAll(again.openContent(a));
      assert.equal(content.length, ma.size);
      assert.ok(contentIsIntact(a, content));
      assert.ok(log.texts().some((t) => t.includes('recovered 2 message(s)')));
    } finally {
      await again.close();
    }
  } finally {
    await cleanup();
  }
});

test('messages found active at start-up go back to incoming; queue active line is logged', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store, log } = await openStore(dir);
    const id = store.newQueueId();
    await store.enqueue(newMessage(id, ['a@example.org', 'b@example.org']), selfCheckingContent(id));
    await store.setState(id, 'active');
    const size = store.get(id)?.size;
    assert.ok(log.texts().includes(`${id}: from=<sender@example.com>, size=${size}, nrcpt=2 (queue active)`));
    await store.close();
    const { store: again, log: log2 } = await openStore(dir);
    assert.equal(again.get(id)?.state, 'incoming');
    assert.ok(log2.texts().some((t) => t.includes('1 returned from active to incoming')));
    await again.close();
  } finally {
    await cleanup();
  }
});

test('the return from active to incoming is written to disk: tools see it, the next start finds nothing active', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = store.newQueueId();
      await store.enqueue(newMessage(id), selfCheckingContent(id));
      ids.push(id);
    }
    const [active, deferred, held] = ids as [string, string, string];
    await store.setState(active, 'active');
    await store.setState(deferred, 'deferred', { nextAttempt: 1234 });
    await store.setState(held, 'hold');
    await store.close();
    const stateOnDisk = async (): Promise<Map<string, string>> =>
      new Map((await readStoreSnapshot(dir)).map((e) => [e.message.queueId, e.message.state]));
    assert.equal((await stateOnDisk()).get(active), 'active', 'the crash left it active');

    const { store: second, log: log2 } = await openStore(dir);
    assert.ok(log2.texts().some((t) => t.includes('1 returned from active to incoming')));
    // A read-only reader of the segment files (postqueue, postcat) sees the change while the store is open.
    assert.deepEqual(
      [...(await stateOnDisk()).entries()].sort(),
      [
        [active, 'incoming'],
        [deferred, 'deferred'],
        [held, 'hold'],
      ].sort(),
    );
    await second.close();

    const { store: third, log: log3 } = await openStore(dir);
    assert.ok(!log3.texts().some((t) => t.includes('returned from active')), log3.texts().join('\n'));
    assert.equal(third.get(active)?.state, 'incoming');
    assert.equal(third.get(deferred)?.nextAttempt, 1234);
    assert.equal(third.get(held)?.state, 'hold');
    await third.close();
  } finally {
    await cleanup();
  }
});

test('content is streamed back in whole lines', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir);
    const id = store.newQueueId();
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'y'.repeat(i % 97)}\r\n`).join('');
    const content = Buffer.from(`Subject: t\r\n\r\n${lines}`);
    await store.enqueue(newMessage(id), content);
    let chunks = 0;
    const parts: Buffer[] = [];
    for await (const c of store.openContent(id)) {
      chunks++;
      assert.equal(c[c.length - 1], 0x0a, 'each chunk ends at a line end');
      parts.push(c);
    }
    assert.ok(chunks > 1);
    assert.ok(Buffer.concat(parts).equals(content));
    await store.close();
  } finally {
    await cleanup();
  }
});

test('the store lock: a second owner is refused, a stale lock is taken over', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir);
    await assert.rejects(openStore(dir), QueueLockError);
    await store.close();
    // A lock left behind by a process that no longer exists.
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'segments', 'lock'), '999999999\n');
    const { store: again } = await openStore(dir);
    await again.close();
  } finally {
    await cleanup();
  }
});

test('queue_minfree: new mail is refused with a no-space error, nothing is stored', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir, { minFree: Number.MAX_SAFE_INTEGER });
    const id = store.newQueueId();
    await assert.rejects(store.enqueue(newMessage(id), selfCheckingContent(id)), {
      name: 'QueueStorageError',
      kind: 'nospace',
    });
    assert.equal(store.get(id), undefined);
    assert.equal([...store.list()].length, 0);
    await store.close();
  } finally {
    await cleanup();
  }
});

test('delivered mail frees its segments; a long-lived message is relocated, not lost', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir, { segmentSize: 8192 });
    const keeper = store.newQueueId();
    await store.enqueue(newMessage(keeper), selfCheckingContent(keeper, 1000));
    const others: string[] = [];
    for (let i = 0; i < 60; i++) {
      const id = store.newQueueId();
      await store.enqueue(newMessage(id), selfCheckingContent(id, 1000));
      others.push(id);
    }
    await store.setState(keeper, 'deferred', { nextAttempt: 1 });
    for (const id of others) await store.remove(id);
    // Let the background reclamation finish (bounded wait).
    for (let i = 0; i < 200 && store.stats().segments > 2; i++) await new Promise((r) => setTimeout(r, 10));
    const segs = (await readdir(join(dir, 'segments'))).filter((n) => /^\d{8}$/.test(n));
    assert.ok(segs.length <= 2, `segments left: ${segs.join(',')}`);
    await store.close();
    const { store: again } = await openStore(dir);
    assert.deepEqual(
      [...again.list()].map((m) => m.queueId),
      [keeper],
    );
    assert.equal(again.get(keeper)?.state, 'deferred');
    assert.ok(contentIsIntact(keeper, await readAll(again.openContent(keeper))));
    await again.close();
  } finally {
    await cleanup();
  }
});

test('a process that only reads the queue creates no segment file', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir);
    const id = store.newQueueId();
    await store.enqueue(newMessage(id), selfCheckingContent(id));
    await store.close();
    const before = (await readdir(join(dir, 'segments'))).filter((n) => /^\d{8}$/.test(n));
    for (let i = 0; i < 3; i++) {
      const { store: reader } = await openStore(dir);
      assert.ok(reader.get(id));
      await reader.close();
    }
    const after = (await readdir(join(dir, 'segments'))).filter((n) => /^\d{8}$/.test(n));
    assert.deepEqual(after, before);
  } finally {
    await cleanup();
  }
});
