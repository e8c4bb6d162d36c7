// The store's memory of just-committed content: the first delivery reads the
// same bytes that are on disk, a caller reusing its buffer after commit cannot
// change them, a removed message is never served, and the memory is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentContent } from '../../src/global/queue/recent-content.js';
import { newMessage, openStore, readAll, selfCheckingContent, tempQueueDir } from './helpers.js';

test('content read right after commit is what a restart reads from disk', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir);
    const id = store.newQueueId();
    const content = selfCheckingContent(id, 3000);
    const original = Buffer.from(content);
    await store.enqueue(newMessage(id), content);
    content.fill(0x21); // the caller's buffer is reused for something else
    const first = await readAll(store.openContent(id));
    assert.ok(first.equals(original));
    await store.close();
    const { store: again } = await openStore(dir);
    try {
      assert.ok((await readAll(again.openContent(id))).equals(original));
    } finally {
      await again.close();
    }
  } finally {
    await cleanup();
  }
});

test('a removed message is not served from memory', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir);
    const id = store.newQueueId();
    await store.enqueue(newMessage(id), selfCheckingContent(id));
    await store.remove(id);
    await assert.rejects(readAll(store.openContent(id)), /no such message/);
    await store.close();
  } finally {
    await cleanup();
  }
});

test('the memory keeps at most its byte bound, newest first, and skips large messages', () => {
  const r = new RecentContent(1000, 400);
  const piece = (n: number): Buffer[] => [Buffer.alloc(n / 2, 0x61), Buffer.alloc(n / 2, 0x62)];
  r.put('A', piece(300), 300);
  r.put('B', piece(300), 300);
  r.put('C', piece(300), 300);
  assert.equal(r.size, 900);
  r.put('D', piece(300), 300);
  assert.equal(r.get('A'), undefined);
  assert.equal(r.get('D')?.toString('latin1'), 'a'.repeat(150) + 'b'.repeat(150));
  assert.ok(r.size <= 1000);
  r.put('E', piece(500), 500);
  assert.equal(r.get('E'), undefined);
  r.drop('D');
  assert.equal(r.size, 600);
});
