// trivial-rewrite(8) as a master.cf service: publishes the Rewriter
// (rewrite + resolve) in the ServiceDirectory, which cleanup, qmgr and smtpd
// call in process instead of over private/rewrite. `postfix reload` builds a
// new one from the new main.cf; callers pick it up at their next lookup.
import { serviceKey, type ServiceDirectory } from '../../global/service/directory.js';
import { serviceDictOpener } from '../../global/service/dict-opener.js';
import type { RunningService, ServiceContext, ServiceModule } from '../../global/service/service-api.js';
import type { ParamReader } from '../../global/params/types.js';
import type { Logger } from '../../global/log/logger.js';
import { createRewriter, type Rewriter } from './trivial-rewrite.js';

export const REWRITER = serviceKey<Rewriter>('trivial-rewrite');

/** Postfix's wording when a daemon cannot reach trivial-rewrite. */
export class RewriterUnavailableError extends Error {
  override name = 'RewriterUnavailableError';
  constructor() {
    super('trivial-rewrite service is not running');
  }
}

/** A Rewriter that asks whichever trivial-rewrite service is running at the time of each call. */
export function directoryRewriter(directory: ServiceDirectory): Rewriter {
  const current = (): Rewriter => {
    const r = directory.get(REWRITER);
    if (!r) throw new RewriterUnavailableError();
    return r;
  };
  return {
    rewrite: (addr, context) => current().rewrite(addr, context),
    resolve: async (addr, sender, mode) => current().resolve(addr, sender, mode),
    isLocalDomain: async (domain) => current().isLocalDomain(domain),
  };
}

function build(config: ParamReader, logger: Logger): Rewriter {
  return createRewriter({ config, openDict: serviceDictOpener(config, logger) });
}

const service: ServiceModule = {
  start(ctx: ServiceContext): Promise<RunningService> {
    let rewriter = build(ctx.config, ctx.logger);
    ctx.directory.provide(REWRITER, rewriter);
    return Promise.resolve({
      reload(config: ParamReader): Promise<void> {
        const next = build(config, ctx.logger);
        ctx.directory.provide(REWRITER, next);
        rewriter = next;
        return Promise.resolve();
      },
      stop(): Promise<void> {
        ctx.directory.withdraw(REWRITER, rewriter);
        return Promise.resolve();
      },
    });
  },
};

export default service;
