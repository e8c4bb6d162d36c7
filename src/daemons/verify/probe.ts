// Sending one address verification probe: a message with no content to the
// one address, from the probe sender, queued through cleanup like any mail
// (so canonical and virtual alias mapping apply) but flagged as a verify
// probe: qmgr routes it with the address_verify_* overrides, the delivery
// agents stop short of delivery (smtp/lmtp after RCPT TO), and the outcome
// goes back to verify(8) instead of to the sender.
import type { CleanupService } from '../../global/queue/cleanup-api.js';

export async function queueProbe(cleanup: CleanupService, sender: string, address: string): Promise<string> {
  // Internal mail (origin bounce): no header/body checks, no automatic BCC, no content filter.
  const tx = await cleanup.open({ origin: 'bounce', sender, verifyOnly: true, verifyProbe: true });
  try {
    tx.addRecipient({ address });
  } catch (e) {
    await tx.abort();
    throw e;
  }
  const verdict = await tx.commit();
  if (verdict.status === 'rejected')
    throw new Error(`${verdict.reply.code} ${verdict.reply.dsn} ${verdict.reply.text}`);
  return verdict.queueId;
}
