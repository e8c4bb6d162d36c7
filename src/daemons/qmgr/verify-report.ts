// qmgr's end of a sendmail -bv (verify-only) message, as Postfix's qmgr
// hands a "verify" request to bounce(8): once every recipient has its
// answer, the sender gets one delivery status report (Action: deliverable or
// undeliverable, whatever the recipients' NOTIFY), every answer is recorded
// as final — a temporary failure is reported, never retried — and the
// message goes. Nothing here delivers anything; the agents only looked.
import type { Logger } from '../../global/log/logger.js';
import type { RecipientOutcome } from '../../global/queue/delivery-api.js';
import type { QueuedMessage, QueueStore, StoredRecipient } from '../../global/queue/store-api.js';
import type { BounceService, NoticeMessage } from '../bounce/bounce.js';
import { removedLine } from './log-lines.js';
import { noticeRcpt } from './notice-recipient.js';

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
    // Only once the report is queued: a deferral recorded as bounced is done, never tried again.
    await deps.store.recordOutcomes(
      msg.queueId,
      results.map((x) => (x.outcome.status === 'deferred' ? { ...x.outcome, status: 'bounced' as const } : x.outcome)),
    );
  }
  if (msg.recipients.some((r) => !r.done && !answered(r.index))) {
    await deps.store.setState(msg.queueId, 'deferred', { nextAttempt: deps.retryAt() });
    return;
  }
  await deps.store.remove(msg.queueId);
  deps.log.info(removedLine(msg.queueId));
}
