// The process-wide queue store: services share one open store (its lock
// admits one owner), it stays open while any user holds it, and the last
// release closes it so that another owner can take the queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { Config } from '../../src/global/params/config.js';
import { openQueueStore } from '../../src/global/queue/open-store.js';
import { QUEUE_STORE } from '../../src/global/queue/service-keys.js';
import { queueStoreProvider } from '../../src/global/queue/shared-store.js';
import { ServiceDirectory } from '../../src/global/service/directory.js';

test('queue store provider: one store per process, closed by the last release', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-shared-store-'));
  const config = Config.fromText(`queue_directory = ${dir}`);
  const log = new MemoryLogger();
  const directory = new ServiceDirectory();
  try {
    const provider = queueStoreProvider(directory);
    assert.equal(queueStoreProvider(directory), provider, 'one provider per directory');
    const a = await provider.acquire(config, log);
    const b = await provider.acquire(config, log);
    assert.equal(a, b, 'the second user gets the same open store');
    assert.equal(directory.get(QUEUE_STORE), a);
    await provider.release();
    // still held: a second owner is refused by the lock
    await assert.rejects(openQueueStore(config, log));
    await provider.release();
    assert.equal(directory.get(QUEUE_STORE), undefined, 'withdrawn when closed');
    const other = await openQueueStore(config, log);
    await other.close();
    // and it can be opened again through the provider afterwards
    const again = await provider.acquire(config, log);
    assert.notEqual(again, a);
    await provider.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
