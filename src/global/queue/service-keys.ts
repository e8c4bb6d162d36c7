// Directory keys under which the core process's in-process queue APIs are
// published (global/service/directory.ts): cleanup provides CLEANUP_SERVICE,
// whoever opens the queue store provides QUEUE_STORE, qmgr provides
// QUEUE_FLUSHER. pickup, flush and the queue control channel look them up at
// use time, so start order does not matter.
import { serviceKey } from '../service/directory.js';
import type { CleanupService } from './cleanup-api.js';
import type { QueueStore } from './store-api.js';

/** What `postqueue -f`, `-s site` and `sendmail -q` need from qmgr (Qmgr.flush has this shape). */
export interface QueueFlusher {
  /** Retry deferred mail now; with a site, only mail with a pending recipient in that domain. */
  flush(site?: string): void;
}

export const CLEANUP_SERVICE = serviceKey<CleanupService>('cleanup');
export const QUEUE_STORE = serviceKey<QueueStore>('queue-store');
export const QUEUE_FLUSHER = serviceKey<QueueFlusher>('qmgr');
