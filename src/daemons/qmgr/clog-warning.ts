// qmgr(8)'s warning that one destination is clogging the active queue
// (qmgr_clog_warn_time, with helpful_warnings): when the batches waiting for
// or in delivery to one destination exceed 80% of qmgr_message_active_limit,
// Postfix logs "mail for X is using up N of M active queue entries" and a hint
// at the likely cause, at most once per qmgr_clog_warn_time per destination.
import type { Logger } from '../../global/log/logger.js';
import type { Destination } from './destination.js';

export interface ClogFacts {
  readonly activeLimit: number;
  /** Messages in the active queue now. */
  readonly activeMessages: number;
  /** The transport's destination concurrency limit (0: none). */
  readonly concurrencyLimit: number;
  /** Whether other destinations of the same transport have work waiting too. */
  readonly sharesTransport: boolean;
}

export class ClogWarnings {
  /** Per destination key: no warning before this time (ms); kept when the destination goes idle. */
  private readonly next = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    /** qmgr_clog_warn_time in ms; 0 turns the warnings off. */
    private readonly interval: number,
  ) {}

  check(d: Destination, facts: ClogFacts, now: number): void {
    if (this.interval <= 0) return;
    const entries = d.queued + d.inflight;
    if (entries <= 0.8 * facts.activeLimit || now < (this.next.get(d.key) ?? 0)) return;
    if (this.next.size >= 10_000) for (const [k, t] of this.next) if (t <= now) this.next.delete(k);
    this.next.set(d.key, now + this.interval);
    const count = Math.max(1, facts.activeMessages);
    const share = d.queued / count;
    const w = (text: string): void => this.log.warning(text);
    w(`mail for ${d.nexthop} is using up ${d.queued} of ${count} active queue entries`);
    if (share < 0.9) w('this may slow down other mail deliveries');
    if (facts.concurrencyLimit > 0 && facts.concurrencyLimit <= d.window) {
      w(
        `you may need to increase the main.cf ${d.transport}_destination_concurrency_limit from ${facts.concurrencyLimit}`,
      );
    } else if (d.window > facts.activeLimit * share) {
      w(`you may need to increase the main.cf qmgr_message_active_limit from ${facts.activeLimit}`);
    } else if (facts.sharesTransport) {
      w(`you may need a separate master.cf transport for ${d.nexthop}`);
    } else {
      w(`you may need to reduce ${d.transport} connect and helo timeouts`);
      w('so that Postfix quickly skips unavailable hosts');
      w('you may need to increase the main.cf minimal_backoff_time and maximal_backoff_time');
      w('so that Postfix wastes less time on undeliverable mail');
    }
  }
}
