// Wiring for the core process: one call builds trivial-rewrite, bounce, the
// built-in error/retry/discard agents and the queue manager over a queue store
// and a cleanup service, and starts it. master's service skeleton calls this;
// delivery agents from other areas (smtp, lmtp, local, virtual, pipe) are
// passed in by master.cf service name.
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type { CleanupService } from '../../global/queue/cleanup-api.js';
import type { DeliveryAgent } from '../../global/queue/delivery-api.js';
import type { QueueStore } from '../../global/queue/store-api.js';
import { createBounceService } from '../bounce/bounce.js';
import { createDiscardAgent } from '../discard/discard.js';
import { createErrorAgent } from '../error/error.js';
import type { OpenDict } from '../trivial-rewrite/domain-list.js';
import { createRewriter, type Rewriter } from '../trivial-rewrite/trivial-rewrite.js';
import { Qmgr } from './qmgr.js';

export interface QueueManagerDeps {
  readonly config: ParamReader;
  readonly store: QueueStore;
  readonly cleanup: CleanupService;
  readonly openDict: OpenDict;
  /** `$syslog_name`-based root logger; children `qmgr`, `bounce`, and each agent's command are made from it. */
  readonly logger: Logger;
  /** master.cf service name → agent (e.g. `smtp`, `relay` → the smtp client, `local`). */
  readonly agents: ReadonlyMap<string, DeliveryAgent>;
  readonly maxproc?: (transport: string) => number | undefined;
  /** Share a rewriter with cleanup/smtpd instead of building one. */
  readonly rewriter?: Rewriter;
}

export interface RunningQueueManager {
  readonly qmgr: Qmgr;
  readonly rewriter: Rewriter;
}

export async function startQueueManager(deps: QueueManagerDeps): Promise<RunningQueueManager> {
  const rewriter = deps.rewriter ?? createRewriter({ config: deps.config, openDict: deps.openDict });
  const builtin = new Map<string, DeliveryAgent>([
    ['error', createErrorAgent()],
    ['retry', createErrorAgent()],
    ['discard', createDiscardAgent()],
  ]);
  const agentFor = (t: string): DeliveryAgent | undefined => deps.agents.get(t) ?? builtin.get(t);
  const qmgr = new Qmgr({
    config: deps.config,
    store: deps.store,
    resolve: (addr, sender, mode) => rewriter.resolve(addr, sender, mode),
    agentFor,
    bounce: createBounceService({ config: deps.config, cleanup: deps.cleanup, logger: deps.logger.child('bounce') }),
    logger: deps.logger.child('qmgr'),
    ...(deps.maxproc ? { maxproc: deps.maxproc } : {}),
  });
  await qmgr.start();
  return { qmgr, rewriter };
}
