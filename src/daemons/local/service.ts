// local(8), virtual(8) and pipe(8) as master.cf services inside the core
// worker. Until the privileged delivery process exists (docs/ARCHITECTURE.md,
// "Processes and privileges"), they run as $mail_owner: unprivileged
// (`npm start`) that delivers to the invoking user's own mailbox; as root,
// deliveries the worker's user may not make fail temporarily and stay queued.
import type { Logger } from '../../global/log/logger.js';
import type { DeliveryAgent, DeliveryRequest, RecipientOutcome } from '../../global/queue/delivery-api.js';
import { serviceDictOpener } from '../../global/service/dict-opener.js';
import { transportModule } from '../../global/service/transport-service.js';
import { directoryCleanup } from '../bounce/service.js';
import { directoryRewriter } from '../trivial-rewrite/service.js';
import { createDeliveryAgent } from './agent-factory.js';

/**
 * A pipe entry Postfix would only reject when it runs (stock Debian's
 * `maildrop ... user=vmail` with no such user): the mail system starts, and
 * mail for that transport is deferred with the reason logged, as Postfix's
 * qmgr defers when the agent dies at start-up.
 */
function brokenAgent(command: string, reason: string, logger: Logger): DeliveryAgent {
  return {
    command,
    deliver(req: DeliveryRequest): Promise<RecipientOutcome[]> {
      logger.warning(`${req.queueId}: ${reason}`);
      return Promise.resolve(
        req.recipients.map((r) => ({
          index: r.index,
          status: 'deferred' as const,
          dsn: '4.3.0',
          relay: 'none',
          reason: 'unknown mail transport error',
        })),
      );
    },
  };
}

export default transportModule((config, logger, ctx) => {
  const rewriter = directoryRewriter(ctx.directory);
  let agent: DeliveryAgent | undefined;
  try {
    agent = createDeliveryAgent({
      entry: ctx.entry,
      config,
      logger,
      cleanup: directoryCleanup(ctx.directory),
      isLocal: async (address) => (await rewriter.resolve(address, '')).transport === ctx.entry.name,
      openDict: serviceDictOpener(config, logger),
    });
  } catch (e) {
    return brokenAgent(ctx.entry.command, (e as Error).message, logger);
  }
  if (!agent) throw new Error(`${ctx.entry.command}: not a delivery agent command`);
  return agent;
});
