// What the verify(8) address verification service offers the rest of the
// core process: smtpd's reject_unverified_sender/_recipient ask `query`,
// qmgr reports each probe's outcome with `update`. In Postfix these are the
// "query" and "update" requests on private/verify; here the service is found
// in the ServiceDirectory under VERIFY_SERVICE (absent → the callers answer
// as Postfix does when the verify service fails).
import { serviceKey } from '../../global/service/directory.js';

/**
 * An address's verification status, Postfix's DEL_RCPT_STAT_*: `ok`
 * deliverable, `defer` a probe failed temporarily, `bounce` undeliverable,
 * `todo` nothing known yet (a probe is on its way).
 */
export type VerifyStatus = 'ok' | 'defer' | 'bounce' | 'todo';

export interface VerifyAnswer {
  readonly status: VerifyStatus;
  /** The delivery agent's reason (`host x[1.2.3.4] said: 550 ...`), or `Address verification in progress`. */
  readonly text: string;
}

export interface AddressVerifier {
  /** The cached status; sends a probe when nothing usable is cached or a refresh is due. */
  query(address: string): Promise<VerifyAnswer>;
  /** A probe's outcome (from qmgr). A failure never replaces a cached `ok` (optimistic caching). */
  update(address: string, status: Exclude<VerifyStatus, 'todo'>, text: string): Promise<void>;
  /**
   * Resolves when `address` gets an update, or after `ms`. Lets smtpd's poll
   * loop answer as soon as the probe does instead of sleeping the whole
   * address_verify_poll_delay.
   */
  settled(address: string, ms: number): Promise<void>;
  /** Whether negative results are cached (address_verify_negative_cache). */
  readonly negativeCache: boolean;
}

export const VERIFY_SERVICE = serviceKey<AddressVerifier>('verify');
