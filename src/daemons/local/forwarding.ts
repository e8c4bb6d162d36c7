// How local(8) sends mail on to addresses it does not deliver itself (aliases
// and .forward entries in other domains, luser_relay): one new message
// through cleanup with the same sender and DSN envelope, `Delivered-To:`
// prepended so that a loop back to us is recognised, reported as
// `forwarded as QUEUEID`. Also whose rights alias-table deliveries get.
import { stat } from 'node:fs/promises';
import type { CleanupService } from '../../global/queue/cleanup-api.js';
import type { DeliveryRecipient, DeliveryRequest } from '../../global/queue/delivery-api.js';
import { defaultPrivs, lookupUser, type Identity } from './identity.js';
import { prependDeliveredTo } from './mail-copy.js';
import type { Leaf } from './recipient-outcome.js';

export interface ForwardCopy {
  readonly req: DeliveryRequest;
  readonly rcpt: DeliveryRecipient;
  readonly sender: string;
  readonly addresses: readonly string[];
  /** Queue content (CRLF lines). */
  readonly content: Buffer;
  /** prepend_delivered_header lists `forward`. */
  readonly addDeliveredTo: boolean;
}

export async function forwardCopy(cleanup: CleanupService | undefined, f: ForwardCopy): Promise<Leaf> {
  if (!cleanup)
    return { status: 'deferred', dsn: '4.3.0', reason: 'mail system configuration error: forwarding is not available' };
  const t = await cleanup.open({
    origin: 'local',
    sender: f.sender,
    arrivalTime: f.req.arrivalTime,
    envid: f.req.envid,
    ret: f.req.ret,
    body: f.req.body,
    smtputf8: f.req.smtputf8,
  });
  for (const address of f.addresses) t.addRecipient({ address, notify: f.rcpt.notify });
  t.write(f.addDeliveredTo ? prependDeliveredTo(f.content, f.rcpt.address) : f.content);
  const v = await t.commit();
  if (v.status === 'rejected') {
    return { status: v.reply.code >= 500 ? 'bounced' : 'deferred', dsn: v.reply.dsn, reason: v.reply.text };
  }
  return { status: 'sent', dsn: '2.0.0', reason: `forwarded as ${v.queueId}` };
}

/** Files and commands in an alias table run as the table's owner, or default_privs when root owns it. */
export async function aliasTablePrivs(spec: string, defaultPrivsName: string): Promise<Identity | undefined> {
  const name = spec.slice(spec.indexOf(':') + 1);
  for (const path of [`${name}.db`, `${name}.lmdb`, `${name}.cdb`, name]) {
    try {
      const st = await stat(path);
      if (st.uid !== 0) {
        const pw = await lookupUser(String(st.uid));
        if (pw) return pw;
      }
      break;
    } catch {
      // try the next candidate
    }
  }
  return defaultPrivs(defaultPrivsName);
}
