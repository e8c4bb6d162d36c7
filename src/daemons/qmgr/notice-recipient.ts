// How qmgr describes one recipient's outcome to bounce(8): the notice's
// per-recipient fields (address, original, ORCPT, NOTIFY, the remote reply),
// shared by the non-delivery, delay, success and sendmail -bv reports.
import type { RecipientOutcome } from '../../global/queue/delivery-api.js';
import type { StoredRecipient } from '../../global/queue/store-api.js';
import type { NoticeRecipient } from '../bounce/dsn-message.js';

export function noticeRcpt(action: NoticeRecipient['action']) {
  return (x: { rcpt: StoredRecipient; outcome: RecipientOutcome }) => ({
    address: x.rcpt.address,
    original: x.rcpt.original,
    action,
    dsn: x.outcome.dsn,
    reason: x.outcome.reason,
    relay: x.outcome.relay,
    ...(x.rcpt.orcpt !== undefined ? { orcpt: x.rcpt.orcpt } : {}),
    ...(x.rcpt.notify !== undefined ? { notify: x.rcpt.notify } : {}),
    ...(x.outcome.remoteReply !== undefined ? { remoteReply: x.outcome.remoteReply } : {}),
  });
}
