// discard(8): the delivery agent that reports success without delivering.
// The next hop is the text logged in `status=sent (...)`; for a transport
// table entry `discard:` that is the recipient domain, as in Postfix.
import type { DeliveryAgent, DeliveryRequest, RecipientOutcome } from '../../global/queue/delivery-api.js';

export function createDiscardAgent(): DeliveryAgent {
  // The same next hop text comes with every request of a transport_maps entry: its reason is worked out once.
  const reasons = new Map<string, string>();
  const reasonOf = (nexthop: string): string => {
    let text = reasons.get(nexthop);
    if (text === undefined) {
      // A leading status code in the text is accepted but discard always reports 2.0.0.
      text = nexthop.replace(/^[245]\.\d{1,3}\.\d{1,3}\s*/, '').trim() || 'discarded';
      if (reasons.size >= 1000) reasons.clear();
      reasons.set(nexthop, text);
    }
    return text;
  };
  return {
    command: 'discard',
    deliver(req: DeliveryRequest): Promise<RecipientOutcome[]> {
      const text = reasonOf(req.nexthop);
      return Promise.resolve(
        req.recipients.map((r) => ({
          index: r.index,
          status: 'sent' as const,
          dsn: '2.0.0',
          relay: 'none',
          reason: text,
        })),
      );
    },
  };
}
