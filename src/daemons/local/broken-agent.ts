// The agent for a pipe entry Postfix would only reject when it runs (stock
// Debian's `maildrop ... user=vmail` with no such user): the mail system
// starts, and mail for that transport is deferred with the reason logged, as
// Postfix's qmgr defers when the agent dies at start-up.
import type { Logger } from '../../global/log/logger.js';
import type { DeliveryAgent, DeliveryRequest, RecipientOutcome } from '../../global/queue/delivery-api.js';

export function brokenAgent(command: string, reason: string, logger: Logger): DeliveryAgent {
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
