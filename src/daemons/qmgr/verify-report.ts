// qmgr's end of a sendmail -bv (verify-only) message, as Postfix's qmgr
// hands a "verify" request to bounce(8): once every recipient has its
// answer, the sender gets one delivery status report (Action: deliverable or
// undeliverable, whatever the recipients' NOTIFY), every answer is recorded
// as final — a temporary failure is reported, never retried — and the
// message goes. Nothing here delivers anything; the agents only looked.
// verify(8)'s probes end here too (settleProbe), reporting to the verify
// service instead of to a sender.
import type { Logger } from '../../global/log/logger.js';
import type { RecipientOutcome } from '../../global/queue/delivery-api.js';
import type { QueuedMessage, QueueStore, StoredRecipient } from '../../global/queue/store-api.js';
import type { BounceService, NoticeMessage } from '../bounce/bounce.js';
import type { AddressVerifier } from '../verify/verify-api.js';
import { removedLine } from './log-lines.js';
import { noticeRcpt } from './notice-recipient.js';
import { LAZY } from '../../global/queue/store-api.js';

export interface VerifyDeps {
  readonly store: QueueStore;
  readonly bounce: BounceService;
  readonly log: Logger;
  /** When to look again at a message some of whose recipients got no answer this round. */
  readonly retryAt: () => number;
}

/** Throws when the report or the queue update fails; the caller then defers the message as a whole. */
export async function settleVerify(
  deps: VerifyDeps,
  msg: QueuedMessage,
  notice: NoticeMessage,
  results: readonly { rcpt: StoredRecipient; outcome: RecipientOutcome }[],
  answered: (index: number) => boolean,
): Promise<void> {
  if (results.length > 0) {
    await deps.bounce.notify({
      kind: 'verify',
      message: notice,
      recipients: results.map((x) => noticeRcpt(x.outcome.status === 'sent' ? 'deliverable' : 'undeliverable')(x)),
    });
  }
  // Only once the report is queued: a deferral recorded as bounced is done, never tried again.
  await closeRound(deps, msg, results, answered);
}

export interface ProbeDeps {
  readonly store: QueueStore;
  /** undefined when no verify service runs: the probe is then kept and tried again later. */
  readonly verifier: AddressVerifier | undefined;
  readonly log: Logger;
  readonly retryAt: () => number;
}

const PROBE_STATUS = { sent: 'ok', bounced: 'bounce', deferred: 'defer' } as const;

/**
 * verify(8)'s probe: each answer goes to the verify service (under the
 * address the probe was sent to and, when rewriting changed it, the final
 * address too), never to the sender; every answer is final, so the probe is
 * discarded after one attempt. With address_verify_negative_cache = no
 * failures are not reported (the next query probes again). Throws when the
 * verify service is missing or fails; the caller then keeps the probe.
 */
export async function settleProbe(
  deps: ProbeDeps,
  msg: QueuedMessage,
  results: readonly { rcpt: StoredRecipient; outcome: RecipientOutcome }[],
  answered: (index: number) => boolean,
): Promise<void> {
  if (results.length > 0) {
    const v = deps.verifier;
    if (!v) throw new Error('verify service is not running');
    for (const { rcpt, outcome } of results) {
      const status = PROBE_STATUS[outcome.status];
      if (status !== 'ok' && !v.negativeCache) continue;
      await v.update(rcpt.original, status, outcome.reason);
      if (rcpt.address.toLowerCase() !== rcpt.original.toLowerCase())
        await v.update(rcpt.address, status, outcome.reason);
    }
  }
  await closeRound(deps, msg, results, answered);
}

/**
 * Every answer of a verify-only message is final (a deferral is recorded as
 * bounced, never retried); the message goes once no recipient is left.
 */
async function closeRound(
  deps: { readonly store: QueueStore; readonly log: Logger; readonly retryAt: () => number },
  msg: QueuedMessage,
  results: readonly { rcpt: StoredRecipient; outcome: RecipientOutcome }[],
  answered: (index: number) => boolean,
): Promise<void> {
  if (results.length > 0)
    await deps.store.recordOutcomes(
      msg.queueId,
      results.map((x) => (x.outcome.status === 'deferred' ? { ...x.outcome, status: 'bounced' as const } : x.outcome)),
      LAZY,
    );
  if (msg.recipients.some((r) => !r.done && !answered(r.index))) {
    await deps.store.setState(msg.queueId, 'deferred', { nextAttempt: deps.retryAt(), ...LAZY });
    return;
  }
  await deps.store.remove(msg.queueId, LAZY);
  deps.log.info(removedLine(msg.queueId));
}
