// Per-destination concurrency inside the delivery process. The core's qmgr
// may hand the delivery process a few requests beyond a destination's window
// (DeliveryAgent.queuedAhead), so the next delivery to a user starts the
// moment one finishes instead of after a round trip through the core
// worker's busy event loop; this gate keeps what actually runs at once to the
// destination's `<transport>_destination_concurrency_limit`, per recipient
// when `<transport>_destination_recipient_limit` is 1, as qmgr(8) counts it.
import type { ParamReader } from '../../global/params/types.js';

export interface GatePolicy {
  /** Deliveries to one destination at once; 0 = no limit. */
  readonly limit: number;
  /** Each recipient is its own destination (recipient limit 1, local(8)'s default). */
  readonly perRecipient: boolean;
}

/** `<transport>_<suffix>` when set or known, else `default_<suffix>`, as qmgr reads it. */
function perTransport(config: ParamReader, transport: string, suffix: string): number {
  const own = config.get(`${transport}_${suffix}`);
  const text = own !== '' ? own : config.get(`default_${suffix}`);
  return /^\d+$/.test(text.trim()) ? Number.parseInt(text, 10) : 0;
}

export function gatePolicy(config: ParamReader): (transport: string) => GatePolicy {
  const cache = new Map<string, GatePolicy>();
  return (transport) => {
    let p = cache.get(transport);
    if (!p) {
      p = {
        limit: perTransport(config, transport, 'destination_concurrency_limit'),
        perRecipient: perTransport(config, transport, 'destination_recipient_limit') === 1,
      };
      cache.set(transport, p);
    }
    return p;
  };
}

/** The destination key of a request, as qmgr groups it. */
export function destinationKey(
  policy: GatePolicy,
  transport: string,
  nexthop: string,
  recipients: readonly { readonly address: string }[],
): string {
  const rcpt = policy.perRecipient && recipients.length === 1 ? `\0${recipients[0]?.address.toLowerCase()}` : '';
  return `${transport}\0${nexthop}${rcpt}`;
}

export class DestinationGate {
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();

  /**
   * Resolves once a delivery to `key` may start; the caller must `leave(key)` when it ends.
   * `first`: ahead of those waiting (a delivery taking back the slot it lent during its mailbox write).
   */
  enter(key: string, limit: number, first = false): Promise<void> {
    const n = this.running.get(key) ?? 0;
    if (limit <= 0 || n < limit) {
      this.running.set(key, n + 1);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const q = this.waiting.get(key) ?? [];
      if (first) q.unshift(resolve);
      else q.push(resolve);
      this.waiting.set(key, q);
    });
  }

  leave(key: string): void {
    const q = this.waiting.get(key);
    const next = q?.shift();
    if (q && q.length === 0) this.waiting.delete(key);
    // The slot passes straight to the next waiter (first come, first served).
    if (next) return next();
    const n = (this.running.get(key) ?? 1) - 1;
    if (n > 0) this.running.set(key, n);
    else this.running.delete(key);
  }

  /** Deliveries running and waiting for `key` (tests). */
  load(key: string): { running: number; waiting: number } {
    return { running: this.running.get(key) ?? 0, waiting: this.waiting.get(key)?.length ?? 0 };
  }
}
