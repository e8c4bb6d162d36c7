// One delivery destination (transport + next hop) in qmgr(8)'s scheduler:
// the jobs (messages) with recipient batches waiting for it, in the order
// they arrived, and its concurrency window, which starts at
// initial_destination_concurrency, grows with positive feedback up to the
// destination concurrency limit, shrinks on connection-level failures and
// marks the destination dead after failed_cohort_limit failed cohorts.
import type { DeliveryRecipient } from '../../global/queue/delivery-api.js';
import type { Job } from './job.js';

export interface Batch {
  readonly queueId: string;
  readonly transport: string;
  readonly nexthop: string;
  readonly recipients: readonly DeliveryRecipient[];
}

export interface ConcurrencyPolicy {
  readonly initial: number;
  /** 0 means no per-destination limit. */
  readonly limit: number;
  /** Feedback amounts: a number, or `n/concurrency` meaning n divided by the window. */
  readonly positive: string;
  readonly negative: string;
  readonly failedCohortLimit: number;
  /** `<transport>_destination_rate_delay` in ms: a pause between deliveries, which implies one at a time. */
  readonly rateDelay: number;
}

function feedback(spec: string, window: number): number {
  const m = /^\s*([\d.]+)\s*(?:\/\s*concurrency)?\s*$/.exec(spec);
  const n = m ? Number(m[1]) : 1;
  return spec.includes('/') ? n / Math.max(1, window) : n;
}

export class Destination {
  /** Jobs with batches waiting here, oldest first (each job keeps its own batches). */
  readonly jobs = new Set<Job>();
  /** Batches waiting here, over all jobs. */
  queued = 0;
  inflight = 0;
  window: number;
  private failedCohorts = 0;
  /** Set while the destination is dead (throttled), until this time (ms). */
  deadUntil: number | undefined;
  lastFailure: { dsn: string; reason: string } | undefined;

  constructor(
    readonly key: string,
    readonly transport: string,
    readonly nexthop: string,
    private readonly policy: ConcurrencyPolicy,
  ) {
    this.window = this.cap(Math.max(1, policy.initial));
  }

  private cap(w: number): number {
    return this.policy.limit > 0 ? Math.min(w, this.policy.limit) : w;
  }

  isDead(now: number): boolean {
    if (this.deadUntil === undefined) return false;
    if (now < this.deadUntil) return true;
    // The suspension ran out: probe again with a single delivery.
    this.deadUntil = undefined;
    this.window = 1;
    this.failedCohorts = 0;
    return false;
  }

  /** With a rate delay, no delivery starts before this time (ms). */
  notBefore = 0;

  /** Requests the agent may hold beyond the window (DeliveryAgent.queuedAhead; the agent enforces the limit). */
  ahead = 0;

  canStart(now: number): boolean {
    if (this.queued === 0 || this.isDead(now)) return false;
    if (this.policy.rateDelay > 0) return this.inflight === 0 && now >= this.notBefore;
    return this.inflight < Math.floor(this.window) + this.ahead;
  }

  /** After a delivery: when the next one may start, if a rate delay applies. */
  pauseAfterDelivery(now: number): number | undefined {
    if (this.policy.rateDelay <= 0) return undefined;
    this.notBefore = now + this.policy.rateDelay;
    return this.notBefore;
  }

  success(): void {
    this.failedCohorts = 0;
    this.window = this.cap(this.window + feedback(this.policy.positive, this.window));
  }

  /** A delivery failed before talking to the destination. Returns true when it is now dead. */
  failure(dsn: string, reason: string, now: number, suspendMs: number): boolean {
    this.lastFailure = { dsn, reason };
    this.failedCohorts += 1 / Math.max(1, Math.floor(this.window));
    this.window = Math.max(1, this.window - feedback(this.policy.negative, this.window));
    if (this.failedCohorts >= this.policy.failedCohortLimit) {
      this.deadUntil = now + suspendMs;
      return true;
    }
    return false;
  }

  revive(): void {
    this.deadUntil = undefined;
    this.failedCohorts = 0;
  }
}
