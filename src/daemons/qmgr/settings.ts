// qmgr(8)'s parameters read once per (re)load: retry timing, active-queue
// limits and the per-transport `<transport>_destination_*` overrides that
// fall back to their `default_destination_*` counterparts.
import type { ParamReader } from '../../global/params/types.js';
import type { RetryPolicy } from './backoff.js';
import type { ConcurrencyPolicy } from './destination.js';
import type { SlotPolicy } from './transport-jobs.js';

/** Per-transport limits on recipients held in memory, and how a partly read message is refilled. */
export interface RecipientPolicy {
  /** <transport>_recipient_limit. */
  readonly limit: number;
  /** <transport>_extra_recipient_limit: room kept for messages that may preempt. */
  readonly extra: number;
  /** <transport>_recipient_refill_limit. */
  readonly refillLimit: number;
  /** <transport>_recipient_refill_delay in ms. */
  readonly refillDelay: number;
}

export interface QmgrSettings {
  readonly retry: RetryPolicy;
  readonly queueRunDelay: number;
  readonly activeLimit: number;
  readonly recipientLimit: number;
  /** qmgr_message_recipient_minimum: every active message may hold this many, whatever the limits. */
  readonly recipientMinimum: number;
  /** transport_retry_time in ms: how long a transport whose agent is missing or failed is left alone. */
  readonly transportRetry: number;
  /** qmgr_clog_warn_time in ms (0: no warnings; also off without helpful_warnings). */
  readonly clogWarn: number;
  readonly deferTransports: ReadonlySet<string>;
  readonly delayResolution: number;
  /** Next hop for a content filter given as `transport:` (empty: the recipient's domain). */
  readonly defaultFilterNexthop: string;
  readonly concurrency: (transport: string) => ConcurrencyPolicy;
  readonly destinationRecipientLimit: (transport: string) => number;
  readonly processLimit: (transport: string) => number;
  readonly slots: (transport: string) => SlotPolicy;
  readonly recipients: (transport: string) => RecipientPolicy;
  /** address_verify_pending_request_limit: verify probes allowed in the active queue at once. */
  readonly verifyPendingLimit: number;
}

/** `<transport>_<suffix>` when main.cf or the registry knows it, else `default_<suffix>`. */
function perTransport(config: ParamReader, transport: string, suffix: string): string {
  const own = config.get(`${transport}_${suffix}`);
  return own !== '' ? own : config.get(`default_${suffix}`);
}

/** Per-transport values are asked for on every scheduling step; compute each once. */
function memo<T>(f: (transport: string) => T): (transport: string) => T {
  const cache = new Map<string, T>();
  return (t) => {
    let v = cache.get(t);
    if (v === undefined) cache.set(t, (v = f(t)));
    return v;
  };
}

/** A time value in seconds (`1s`, `2m`, bare numbers are seconds); malformed → 0. */
function timeOf(text: string): number {
  const m = /^\s*(\d+)\s*([smhdw]?)\s*$/.exec(text);
  if (!m) return 0;
  const unit: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  return Number(m[1]) * (unit[m[2] ?? ''] ?? 1);
}

function intOf(text: string, fallback: number): number {
  return /^\d+$/.test(text.trim()) ? Number.parseInt(text, 10) : fallback;
}

export function qmgrSettings(config: ParamReader, maxproc?: (transport: string) => number | undefined): QmgrSettings {
  const cache = new Map<string, ConcurrencyPolicy>();
  return {
    retry: {
      minBackoff: config.time('minimal_backoff_time'),
      maxBackoff: config.time('maximal_backoff_time'),
      maxLifetime: config.time('maximal_queue_lifetime'),
      bounceLifetime: config.time('bounce_queue_lifetime'),
      delayWarning: config.time('delay_warning_time'),
    },
    queueRunDelay: config.time('queue_run_delay'),
    activeLimit: Math.max(1, config.int('qmgr_message_active_limit')),
    recipientLimit: Math.max(1, config.int('qmgr_message_recipient_limit')),
    recipientMinimum: Math.max(1, config.int('qmgr_message_recipient_minimum')),
    transportRetry: Math.max(1, config.time('transport_retry_time')) * 1000,
    clogWarn: config.bool('helpful_warnings') ? config.time('qmgr_clog_warn_time') * 1000 : 0,
    deferTransports: new Set(config.list('defer_transports')),
    delayResolution: config.int('delay_logging_resolution_limit'),
    defaultFilterNexthop: config.get('default_filter_nexthop'),
    concurrency(transport) {
      let p = cache.get(transport);
      if (!p) {
        p = {
          initial: config.int('initial_destination_concurrency'),
          limit: intOf(perTransport(config, transport, 'destination_concurrency_limit'), 20),
          positive: perTransport(config, transport, 'destination_concurrency_positive_feedback'),
          negative: perTransport(config, transport, 'destination_concurrency_negative_feedback'),
          failedCohortLimit: intOf(perTransport(config, transport, 'destination_concurrency_failed_cohort_limit'), 1),
          rateDelay: timeOf(perTransport(config, transport, 'destination_rate_delay')) * 1000,
        };
        cache.set(transport, p);
      }
      return p;
    },
    destinationRecipientLimit: memo((transport) =>
      Math.max(1, intOf(perTransport(config, transport, 'destination_recipient_limit'), 50)),
    ),
    slots: memo((transport) => ({
      cost: intOf(perTransport(config, transport, 'delivery_slot_cost'), 5),
      loan: intOf(perTransport(config, transport, 'delivery_slot_loan'), 3),
      discount: Math.min(100, intOf(perTransport(config, transport, 'delivery_slot_discount'), 50)),
      minSlots: intOf(perTransport(config, transport, 'minimum_delivery_slots'), 3),
    })),
    recipients: memo((transport) => ({
      limit: Math.max(1, intOf(perTransport(config, transport, 'recipient_limit'), 20000)),
      extra: intOf(perTransport(config, transport, 'extra_recipient_limit'), 1000),
      refillLimit: Math.max(1, intOf(perTransport(config, transport, 'recipient_refill_limit'), 100)),
      refillDelay: Math.max(1, timeOf(perTransport(config, transport, 'recipient_refill_delay'))) * 1000,
    })),
    processLimit: memo((transport) => Math.max(1, maxproc?.(transport) ?? config.int('default_process_limit'))),
    verifyPendingLimit: Math.max(1, config.int('address_verify_pending_request_limit')),
  };
}
