// Retry timing of qmgr(8): a deferred message waits as long as it has
// already been queued, clamped to minimal_backoff_time..maximal_backoff_time,
// so the interval doubles each round; it expires after maximal_queue_lifetime
// (bounce_queue_lifetime for mail from the null sender).

export interface RetryPolicy {
  /** Seconds. */
  readonly minBackoff: number;
  readonly maxBackoff: number;
  readonly maxLifetime: number;
  readonly bounceLifetime: number;
  /** 0 disables delay warnings. */
  readonly delayWarning: number;
}

/** ms to wait before the next attempt of a message that arrived at `arrival`. */
export function backoffDelay(p: RetryPolicy, arrival: number, now: number): number {
  const age = Math.max(0, (now - arrival) / 1000);
  return Math.min(Math.max(age, p.minBackoff), Math.max(p.minBackoff, p.maxBackoff)) * 1000;
}

export function isExpired(p: RetryPolicy, sender: string, arrival: number, now: number): boolean {
  const lifetime = sender === '' ? p.bounceLifetime : p.maxLifetime;
  return now - arrival >= lifetime * 1000;
}

export function delayWarningDue(p: RetryPolicy, arrival: number, now: number, warned: boolean): boolean {
  return p.delayWarning > 0 && !warned && now - arrival >= p.delayWarning * 1000;
}
