// Opening the queue store from main.cf: queue_directory, enable_long_queue_ids
// and queue_minfree are read here so every process that owns the queue (the
// core process, or a queue tool while the mail system is down) agrees.
import type { Logger } from '../log/logger.js';
import type { ParamReader } from '../params/types.js';
import { SegmentStore } from './segment-store.js';

export function openQueueStore(cfg: ParamReader, logger: Logger): Promise<SegmentStore> {
  return SegmentStore.open({
    queueDirectory: cfg.get('queue_directory'),
    logger,
    longQueueIds: cfg.bool('enable_long_queue_ids'),
    minFree: cfg.int('queue_minfree'),
  });
}
