// qmgr(8) as a master.cf service: runs the queue manager over the process's
// shared queue store. Everything it talks to is found in the ServiceDirectory
// at the time of use, as Postfix's qmgr connects to private/ sockets:
// trivial-rewrite for resolving, the delivery agent published under each
// transport's master.cf service name, and bounce for notices. A transport
// with no master.cf entry therefore defers (`mail transport unavailable`).
// Publishes QUEUE_FLUSHER for `postqueue -f`, `sendmail -q` and ETRN.
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type { SegmentStore } from '../../global/queue/segment-store.js';
import { QUEUE_FLUSHER, type QueueFlusher } from '../../global/queue/service-keys.js';
import { queueStoreProvider } from '../../global/queue/shared-store.js';
import { transportKey } from '../../global/queue/transport-keys.js';
import type { ServiceDirectory } from '../../global/service/directory.js';
import type { RunningService, ServiceContext, ServiceModule } from '../../global/service/service-api.js';
import { directoryBounce } from '../bounce/service.js';
import { directoryRewriter } from '../trivial-rewrite/service.js';
import { VERIFY_SERVICE } from '../verify/verify-api.js';
import { Qmgr } from './qmgr.js';

async function startQmgr(
  config: ParamReader,
  logger: Logger,
  store: SegmentStore,
  directory: ServiceDirectory,
): Promise<Qmgr> {
  const rewriter = directoryRewriter(directory);
  const qmgr = new Qmgr({
    config,
    store,
    resolve: (addr, sender, mode) => rewriter.resolve(addr, sender, mode),
    agentFor: (transport) => directory.get(transportKey(transport))?.agent,
    maxproc: (transport) => directory.get(transportKey(transport))?.maxproc,
    bounce: directoryBounce(directory),
    verify: () => directory.get(VERIFY_SERVICE),
    logger,
  });
  await qmgr.start();
  return qmgr;
}

const service: ServiceModule = {
  async start(ctx: ServiceContext): Promise<RunningService> {
    const provider = queueStoreProvider(ctx.directory);
    const store = await provider.acquire(ctx.config, ctx.logger);
    let qmgr: Qmgr;
    try {
      qmgr = await startQmgr(ctx.config, ctx.logger, store, ctx.directory);
    } catch (e) {
      await provider.release();
      throw e;
    }
    const flusher: QueueFlusher = { flush: (site) => qmgr.flush(site) };
    ctx.directory.provide(QUEUE_FLUSHER, flusher);
    return {
      async reload(config: ParamReader): Promise<void> {
        // One scheduler at a time: the old one finishes its deliveries before the new one
        // takes the active messages back (otherwise both would deliver them).
        await qmgr.stop();
        qmgr = await startQmgr(config, ctx.logger, store, ctx.directory);
      },
      async stop(graceful: boolean): Promise<void> {
        ctx.directory.withdraw(QUEUE_FLUSHER, flusher);
        // `postfix abort`: do not wait for deliveries; what they leave active is retried at the next start.
        const stopped = qmgr.stop();
        if (graceful) await stopped;
        await provider.release();
      },
    };
  },
};

export default service;
