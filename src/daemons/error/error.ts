// error(8): the delivery agent that always fails. The next hop carries the
// reason, optionally led by an enhanced status code (`5.1.1 User unknown`).
// Under the service name `retry` (master.cf) it defers instead of bouncing.
// Touches nothing but the outcome it returns.
import type { DeliveryAgent, DeliveryRequest, RecipientOutcome } from '../../global/queue/delivery-api.js';

/** `5.1.1 text` → {dsn, text}; without a code, `fallback`. The class digit is forced to match. */
export function splitDsn(nexthop: string, klass: '4' | '5'): { dsn: string; text: string } {
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+(.*))?$/s.exec(nexthop.trim());
  if (!m) return { dsn: `${klass}.0.0`, text: nexthop.trim() || 'delivery failed' };
  return { dsn: `${klass}.${m[2]}.${m[3]}`, text: (m[4] ?? '').trim() || 'delivery failed' };
}

export function createErrorAgent(): DeliveryAgent {
  return {
    command: 'error',
    deliver(req: DeliveryRequest): Promise<RecipientOutcome[]> {
      const defer = req.transport === 'retry';
      const { dsn, text } = splitDsn(req.nexthop, defer ? '4' : '5');
      return Promise.resolve(
        req.recipients.map((r) => ({
          index: r.index,
          status: defer ? ('deferred' as const) : ('bounced' as const),
          dsn,
          relay: 'none',
          reason: text,
        })),
      );
    },
  };
}
