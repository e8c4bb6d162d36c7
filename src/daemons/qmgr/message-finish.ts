// The end of one delivery round of a message in qmgr(8): every recipient
// has its outcome, so the notices go out (bounce, success, delay warning),
// expired mail is returned, and the message is either removed or deferred
// with backoff. Split from qmgr.ts, which only decides when a round ends.
import type { Logger } from '../../global/log/logger.js';
import type { RecipientOutcome } from '../../global/queue/delivery-api.js';
import type { QueuedMessage, QueueStore, StoredRecipient } from '../../global/queue/store-api.js';
import type { BounceService, NoticeMessage } from '../bounce/bounce.js';
import { backoffDelay, delayWarningDue, isExpired, type RetryPolicy } from './backoff.js';
import { expiredLine, removedLine } from './log-lines.js';
import { noticeRcpt } from './notice-recipient.js';
import type { AddressVerifier } from '../verify/verify-api.js';
import { settleProbe, settleVerify } from './verify-report.js';
import { LAZY } from '../../global/queue/store-api.js';

export interface FinishDeps {
  readonly store: QueueStore;
  readonly bounce: BounceService;
  readonly log: Logger;
  readonly retry: RetryPolicy;
  readonly now: () => number;
  /** verify(8), which takes the answers of its probes. */
  readonly verifier?: () => AddressVerifier | undefined;
}

export type RoundResult = { rcpt: StoredRecipient; outcome: RecipientOutcome };

/** What bounce(8) needs to know of a message to write a notice about it (a fresh object the caller may extend). */
export function noticeMessage(store: QueueStore, msg: QueuedMessage): NoticeMessage {
  // Optional fields are assigned, not spread: qmgr builds one of these per delivery request.
  const m: { -readonly [K in keyof NoticeMessage]: NoticeMessage[K] } = {
    queueId: msg.queueId,
    sender: msg.sender,
    arrivalTime: msg.arrivalTime,
    size: msg.size,
    openContent: () => store.openContent(msg.queueId),
  };
  if (msg.envid !== undefined) m.envid = msg.envid;
  if (msg.ret !== undefined) m.ret = msg.ret;
  if (msg.body !== undefined) m.body = msg.body;
  if (msg.smtputf8 !== undefined) m.smtputf8 = msg.smtputf8;
  return m;
}

/** Whether a recipient asked for a success notice that this MTA must send (the next hop did not take it on). */
const wantsSuccessNotice = (x: RoundResult): boolean =>
  x.rcpt.notify?.includes('SUCCESS') === true && x.outcome.dsnSuccess !== 'passed-on';

/**
 * Whether finishRound, given these results, does nothing but remove the
 * message: every recipient answered and sent, no notice to write. qmgr then
 * skips recording the last batch's outcomes, which the removal makes moot.
 */
export function endsInRemoval(
  msg: QueuedMessage,
  results: Iterable<RoundResult>,
  answered: (index: number) => boolean,
): boolean {
  if (msg.verifyOnly === true) return false;
  for (const x of results) if (x.outcome.status !== 'sent' || wantsSuccessNotice(x)) return false;
  return !msg.recipients.some((r) => !r.done && !answered(r.index));
}

/**
 * Notices, then deferred with backoff or removed. A failure leaves the
 * message deferred for a retry: its durable state says what is still to do.
 * `answered` tells whether a recipient got an outcome this round.
 */
export async function finishRound(
  deps: FinishDeps,
  msg: QueuedMessage,
  results: readonly RoundResult[],
  answered: (index: number) => boolean,
): Promise<void> {
  const { store, log } = deps;
  const now = deps.now();
  const retryAt = (): number => deps.now() + deps.retry.minBackoff * 1000;
  if (msg.verifyOnly === true) {
    // sendmail -bv: the report instead of delivery, verify(8)'s probes: the answer to the verify service
    // (see verify-report.ts); a failure retries the whole message.
    try {
      if (msg.verifyProbe === true) {
        await settleProbe({ store, verifier: deps.verifier?.(), log, retryAt }, msg, results, answered);
      } else {
        await settleVerify(
          { store, bounce: deps.bounce, log, retryAt },
          msg,
          noticeMessage(store, msg),
          results,
          answered,
        );
      }
    } catch (e) {
      log.warning(`${msg.queueId}: cannot complete queue file update: ${(e as Error).message}`);
      await store.setState(msg.queueId, 'deferred', { nextAttempt: retryAt(), ...LAZY }).catch(() => undefined);
    }
    return;
  }
  const bounced = results.filter((x) => x.outcome.status === 'bounced');
  let deferred = results.filter((x) => x.outcome.status === 'deferred');
  const sent = results.filter((x) => x.outcome.status === 'sent');
  try {
    if (deferred.length > 0 && isExpired(deps.retry, msg.sender, msg.arrivalTime, now)) {
      log.info(expiredLine(msg.queueId, msg.sender));
      for (const x of deferred) bounced.push({ rcpt: x.rcpt, outcome: { ...x.outcome, status: 'bounced' } });
      deferred = [];
    }
    if (bounced.length > 0) {
      await deps.bounce.notify({
        kind: 'bounce',
        message: noticeMessage(store, msg),
        recipients: bounced.map(noticeRcpt('failed')),
      });
      await store.recordOutcomes(
        msg.queueId,
        bounced.map((x) => x.outcome),
        LAZY,
      );
    }
    // A DSN-capable next hop was given NOTIFY and reports success itself; for one
    // without DSN the notice says "relayed", as Postfix's does.
    const wantSuccess = sent.filter(wantsSuccessNotice);
    if (wantSuccess.length > 0) {
      await deps.bounce.notify({
        kind: 'success',
        message: noticeMessage(store, msg),
        recipients: wantSuccess.map((x) => noticeRcpt(x.outcome.dsnSuccess === 'relayed' ? 'relayed' : 'delivered')(x)),
      });
    }
    const stillOpen = msg.recipients.some((r) => !r.done && !answered(r.index));
    if (deferred.length > 0 || stillOpen) {
      let warned = msg.warned ?? false;
      if (deferred.length > 0 && delayWarningDue(deps.retry, msg.arrivalTime, now, warned)) {
        await deps.bounce.notify({
          kind: 'delay',
          message: noticeMessage(store, msg),
          recipients: deferred.map(noticeRcpt('delayed')),
        });
        warned = true;
      }
      const nextAttempt = now + backoffDelay(deps.retry, msg.arrivalTime, now);
      // Put on hold while we were delivering (postsuper -h): it stays held.
      const held = store.get(msg.queueId)?.state === 'hold';
      await store.setState(msg.queueId, held ? 'hold' : 'deferred', { nextAttempt, warned, ...LAZY });
    } else {
      await store.remove(msg.queueId, LAZY);
      log.info(removedLine(msg.queueId));
    }
  } catch (e) {
    log.warning(`${msg.queueId}: cannot complete queue file update: ${(e as Error).message}`);
    // The last batch's sent outcomes may not be on record (see endsInRemoval): they must not be sent again.
    if (sent.length > 0)
      await store
        .recordOutcomes(
          msg.queueId,
          sent.map((x) => x.outcome),
          LAZY,
        )
        .catch(() => undefined);
    await store.setState(msg.queueId, 'deferred', { nextAttempt: retryAt(), ...LAZY }).catch(() => undefined);
  }
}
