// local, virtual and pipe master.cf entries as seen from the core worker
// (docs/ARCHITECTURE.md, "Processes and privileges"): a DeliveryAgent
// published under the entry's transport name that forwards each request to
// the delivery process over the channel and answers its calls back with this
// worker's trivial-rewrite, cleanup and transports. Outside master (no
// delivery process) the agents are built in-process instead.
import type { DeliveryAgent, RecipientOutcome } from '../../global/queue/delivery-api.js';
import { transportKey } from '../../global/queue/transport-keys.js';
import type { ServiceContext } from '../../global/service/service-api.js';
import { transportModule } from '../../global/service/transport-service.js';
import { directoryCleanup } from '../bounce/service.js';
import { forwardCopy } from '../local/forwarding.js';
import { readAll } from '../local/recipient-outcome.js';
import { inProcessAgent } from '../local/service.js';
import { directoryRewriter } from '../trivial-rewrite/service.js';
import { deliveryLink, deferAll, type CoreCallbacks } from './core-link.js';

function callbacks(ctx: ServiceContext): CoreCallbacks {
  const rewriter = directoryRewriter(ctx.directory);
  return {
    isLocal: async (address) => (await rewriter.resolve(address, '')).transport === ctx.entry.name,
    async forward(req, rcpt, sender, addresses, addDeliveredTo) {
      const content = await readAll(req);
      return forwardCopy(directoryCleanup(ctx.directory), { req, rcpt, sender, addresses, content, addDeliveredTo });
    },
    async pass(transport, nexthop, req, rcpt): Promise<RecipientOutcome> {
      const target = ctx.directory.get(transportKey(transport));
      if (!target) return deferAll({ ...req, recipients: [rcpt] }, 'mail transport unavailable')[0] as RecipientOutcome;
      const out = await target.agent.deliver({ ...req, transport, nexthop, recipients: [rcpt] });
      return (
        out.find((o) => o.index === rcpt.index) ??
        (deferAll({ ...req, recipients: [rcpt] }, 'unknown mail transport error')[0] as RecipientOutcome)
      );
    },
  };
}

/**
 * Requests per destination qmgr may send beyond its window (each waits in the delivery process, content up to
 * 64 KiB included). Maildir writes queued for one mailbox go to the helper together (local/maildir-batch.ts),
 * so a deeper queue means fewer, larger batches, and the next files are already waiting when a helper answers
 * (with 8, "done" fell 10-25% behind "accepted" whenever the core's event loop was busy: each answer had to
 * travel through it before the next request came). qmgr's per-transport process limit still bounds the total.
 */
const QUEUED_AHEAD = 24;

function proxyAgent(ctx: ServiceContext): DeliveryAgent {
  const cb = callbacks(ctx);
  return {
    command: ctx.entry.command,
    // The delivery process gates each destination (destination-gate.ts), so qmgr may send a few ahead.
    queuedAhead: QUEUED_AHEAD,
    deliver: (req) => deliveryLink.deliver(ctx.entry.name, req, cb),
  };
}

export default transportModule((config, logger, ctx) =>
  deliveryLink.enabled ? proxyAgent(ctx) : inProcessAgent(config, logger, ctx),
);
