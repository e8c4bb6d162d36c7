// A full queue file system: the commit that does not fit fails with a
// no-space error (smtpd answers 452 4.3.1), nothing half-written remains, the
// messages acknowledged before are intact, and the store keeps accepting
// mail that fits in the space left. Needs root to mount a small tmpfs; skipped otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { QueueStorageError } from '../../src/global/queue/storage-error.js';
import { contentIsIntact, newMessage, openStore, readAll, selfCheckingContent, tempQueueDir } from './helpers.js';

function mountTmpfs(dir: string): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'mount -t tmpfs failed (no CAP_SYS_ADMIN in this environment?)';
  }
}

test('ENOSPC: refused with a no-space error, earlier mail intact, the store keeps working', async (t) => {
  const { dir, cleanup } = await tempQueueDir();
  const skip = mountTmpfs(dir);
  if (skip) {
    t.skip(skip);
    await cleanup();
    return;
  }
  try {
    const { store } = await openStore(dir);
    const acked: string[] = [];
    let failure: unknown;
    for (let i = 0; i < 100 && failure === undefined; i++) {
      const id = store.newQueueId();
      try {
        await store.enqueue(newMessage(id), selfCheckingContent(id, 150_000));
        acked.push(id);
      } catch (err) {
        failure = err;
        assert.equal(store.get(id), undefined, 'the refused message is not in the queue');
      }
    }
    assert.ok(failure instanceof QueueStorageError, `expected a storage error, got ${String(failure)}`);
    assert.equal(failure.kind, 'nospace');
    assert.ok(acked.length >= 5, `${acked.length} messages fit`);
    // The failed batch was truncated away, so a message that fits is still accepted.
    for (const id of acked.splice(0, 3)) await store.remove(id);
    const again = store.newQueueId();
    await store.enqueue(newMessage(again), selfCheckingContent(again, 1000));
    acked.push(again);
    await store.close();

    const { store: reopened, log } = await openStore(dir);
    try {
      assert.deepEqual([...reopened.list()].map((m) => m.queueId).sort(), [...acked].sort());
      for (const id of acked) assert.ok(contentIsIntact(id, await readAll(reopened.openContent(id))));
      assert.ok(!log.texts().some((l) => l.startsWith('warning:')), 'no damaged records after ENOSPC');
    } finally {
      await reopened.close();
    }
  } finally {
    execFileSync('umount', [dir], { stdio: 'ignore' });
    await cleanup();
  }
});
