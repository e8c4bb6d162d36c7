// bounce(8) as a master.cf service: publishes the BounceService that qmgr
// asks for non-delivery, delay and success notices. Notices are injected
// through whichever cleanup service is running when they are sent. Stock
// master.cf runs bounce under three names (bounce, defer, trace); Postern's
// single BounceService builds all three kinds, so the `bounce` entry is the
// one that publishes it and the other two only need to exist.
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type { CleanupService } from '../../global/queue/cleanup-api.js';
import { CLEANUP_SERVICE } from '../../global/queue/service-keys.js';
import { serviceKey, type ServiceDirectory } from '../../global/service/directory.js';
import type { RunningService, ServiceContext, ServiceModule } from '../../global/service/service-api.js';
import { createBounceService, type BounceService } from './bounce.js';

export const BOUNCE_SERVICE = serviceKey<BounceService>('bounce');

/** cleanup as it is at the time a notice is sent (it may have been reloaded or stopped). */
export function directoryCleanup(directory: ServiceDirectory): CleanupService {
  return {
    open(req) {
      const c = directory.get(CLEANUP_SERVICE);
      if (!c) return Promise.reject(new Error('cleanup service is not running'));
      return c.open(req);
    },
  };
}

/** The bounce service running at the time of each notice; none running → the caller defers. */
export function directoryBounce(directory: ServiceDirectory): BounceService {
  return {
    notify(req) {
      const b = directory.get(BOUNCE_SERVICE);
      if (!b) return Promise.reject(new Error('bounce service is not running'));
      return b.notify(req);
    },
  };
}

function build(config: ParamReader, logger: Logger, directory: ServiceDirectory): BounceService {
  return createBounceService({ config, cleanup: directoryCleanup(directory), logger });
}

const service: ServiceModule = {
  start(ctx: ServiceContext): Promise<RunningService> {
    const publishes = ctx.entry.name === ctx.config.get('bounce_service_name');
    let api = build(ctx.config, ctx.logger, ctx.directory);
    if (publishes) ctx.directory.provide(BOUNCE_SERVICE, api);
    return Promise.resolve({
      reload(config: ParamReader): Promise<void> {
        const next = build(config, ctx.logger, ctx.directory);
        if (publishes) ctx.directory.provide(BOUNCE_SERVICE, next);
        api = next;
        return Promise.resolve();
      },
      stop(): Promise<void> {
        if (publishes) ctx.directory.withdraw(BOUNCE_SERVICE, api);
        return Promise.resolve();
      },
    });
  },
};

export default service;
