// cleanup(8) as a master.cf service: opens (or shares) the process's queue
// store, builds a CleanupServer whose address rewriting is trivial-rewrite's
// CleanupRewriter over the cached lookup tables, and publishes it in the
// ServiceDirectory under CLEANUP_SERVICE for smtpd, pickup and bounce.
// header_checks/body_checks come from createContentChecks (checks/); the
// content_filter and receive_override_options of each smtpd/pickup entry
// come from master.cf (source-config.ts); a content_filter set with `-o` on
// the cleanup entry itself filters mail from every source, notices and
// forwarded mail included (a source entry's own content_filter still wins).
// `postfix reload` swaps in a server built from the new main.cf; messages
// already being received finish with the settings they started with.
import type { Logger } from '../../global/log/logger.js';
import type { MasterEntry } from '../../global/mastercf/types.js';
import type { ParamReader } from '../../global/params/types.js';
import type {
  CleanupOpenRequest,
  CleanupService,
  CleanupTransaction,
  CleanupVerdict,
} from '../../global/queue/cleanup-api.js';
import type { SegmentStore } from '../../global/queue/segment-store.js';
import { CLEANUP_SERVICE } from '../../global/queue/service-keys.js';
import { queueStoreProvider } from '../../global/queue/shared-store.js';
import type { ServiceDirectory } from '../../global/service/directory.js';
import { serviceDictOpener } from '../../global/service/dict-opener.js';
import type { RunningService, ServiceContext, ServiceModule } from '../../global/service/service-api.js';
import { CleanupRewriter } from '../trivial-rewrite/cleanup-rewriter.js';
import { directoryRewriter } from '../trivial-rewrite/service.js';
import { createContentChecks } from './checks/content-checks.js';
import { CleanupServer } from './cleanup-service.js';
import { loadSourceConfigs } from './source-config.js';

/** Longest a graceful stop waits for transactions in progress to commit or abort. */
const DRAIN_LIMIT_MS = 10_000;

async function build(
  config: ParamReader,
  logger: Logger,
  store: SegmentStore,
  directory: ServiceDirectory,
  entry: MasterEntry,
): Promise<CleanupServer> {
  const openDict = serviceDictOpener(config, logger);
  // Only the entry's own -o counts here: main.cf's content_filter belongs to the mail sources.
  const cleanupFilter = entry.overrides.has('content_filter') ? config.get('content_filter').trim() : '';
  return new CleanupServer({
    ...(cleanupFilter !== '' ? { cleanupFilter } : {}),
    store,
    config,
    logger,
    rewriter: new CleanupRewriter(config, openDict, directoryRewriter(directory)),
    checks: await createContentChecks({ config, openDict, logger }),
    sourceConfig: loadSourceConfigs(config, logger),
  });
}

/** Counts open transactions so that stop() can let them finish before the store closes. */
class TrackingCleanup implements CleanupService {
  private inFlight = 0;
  private drained: (() => void)[] = [];

  constructor(public server: CleanupServer) {}

  async open(req: CleanupOpenRequest): Promise<CleanupTransaction> {
    const tx = await this.server.open(req);
    this.inFlight++;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.inFlight--;
      if (this.inFlight === 0) for (const f of this.drained.splice(0)) f();
    };
    return {
      queueId: tx.queueId,
      addRecipient: (r) => tx.addRecipient(r),
      write: (lines) => tx.write(lines),
      commit: (actions): Promise<CleanupVerdict> => tx.commit(actions).finally(finish),
      abort: (): Promise<void> => tx.abort().finally(finish),
    };
  }

  reserveQueueIds(count: number): string[] {
    return this.server.reserveQueueIds(count);
  }

  releaseQueueIds(ids: readonly string[]): void {
    this.server.releaseQueueIds(ids);
  }

  drain(limitMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, limitMs);
      t.unref();
      this.drained.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

const service: ServiceModule = {
  async start(ctx: ServiceContext): Promise<RunningService> {
    const provider = queueStoreProvider(ctx.directory);
    const store = await provider.acquire(ctx.config, ctx.logger);
    let api: TrackingCleanup;
    try {
      api = new TrackingCleanup(await build(ctx.config, ctx.logger, store, ctx.directory, ctx.entry));
    } catch (e) {
      await provider.release();
      throw e;
    }
    ctx.directory.provide(CLEANUP_SERVICE, api);
    return {
      async reload(config: ParamReader): Promise<void> {
        api.server = await build(config, ctx.logger, store, ctx.directory, ctx.entry);
      },
      async stop(graceful: boolean): Promise<void> {
        ctx.directory.withdraw(CLEANUP_SERVICE, api);
        if (graceful) await api.drain(DRAIN_LIMIT_MS);
        await provider.release();
      },
    };
  },
};

export default service;
