// The one queue store of a process. The store takes an exclusive lock on
// $queue_directory, so the services of the core worker that need it (cleanup,
// qmgr, pickup, the queue control channel) share one open instance through
// the ServiceDirectory: the first user opens it, the last one to let go
// closes it (after its own work has drained), so a service restarted by
// `postfix reload` never races another for the lock.
import type { Logger } from '../log/logger.js';
import type { ParamReader } from '../params/types.js';
import { serviceKey, type ServiceDirectory } from '../service/directory.js';
import { openQueueStore } from './open-store.js';
import type { SegmentStore } from './segment-store.js';
import { QUEUE_STORE } from './service-keys.js';

export class QueueStoreProvider {
  private opening: Promise<SegmentStore> | undefined;
  private users = 0;
  private closing: Promise<void> = Promise.resolve();

  constructor(private readonly directory: ServiceDirectory) {}

  /**
   * The process's store, opened on first use with `config`'s queue_directory.
   * The store logs `(queue active)` lines, which are qmgr's in Postfix.
   */
  async acquire(config: ParamReader, logger: Logger): Promise<SegmentStore> {
    this.users++;
    try {
      await this.closing;
      this.opening ??= openQueueStore(config, logger.child('qmgr'));
      const store = await this.opening;
      this.directory.provide(QUEUE_STORE, store);
      return store;
    } catch (e) {
      this.users--;
      if (this.users === 0) this.opening = undefined;
      throw e;
    }
  }

  /** One user is done; the last release closes the store and frees the lock. */
  async release(): Promise<void> {
    if (this.users === 0) return;
    this.users--;
    if (this.users > 0 || !this.opening) return;
    const opened = this.opening;
    this.opening = undefined;
    this.closing = (async () => {
      const store = await opened.catch(() => undefined);
      if (!store) return;
      this.directory.withdraw(QUEUE_STORE, store);
      await store.close();
    })();
    await this.closing;
  }
}

const PROVIDER = serviceKey<QueueStoreProvider>('queue-store-provider');

/** The process-wide provider, created in the directory on first use. */
export function queueStoreProvider(directory: ServiceDirectory): QueueStoreProvider {
  let p = directory.get(PROVIDER);
  if (!p) {
    p = new QueueStoreProvider(directory);
    directory.provide(PROVIDER, p);
  }
  return p;
}
