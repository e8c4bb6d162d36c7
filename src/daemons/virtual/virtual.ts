// virtual(8): mailbox delivery for virtual_mailbox_domains. The mailbox
// comes from virtual_mailbox_maps (a path ending in `/` is a maildir) under
// virtual_mailbox_base; the delivery runs with the uid/gid that
// virtual_uid_maps / virtual_gid_maps give (`static:5000` included), which
// must be at least virtual_minimum_uid, never root. mbox files are locked
// with virtual_mailbox_lock and capped at virtual_mailbox_limit. Touches:
// mailboxes (through local/'s helper, as the mapped uid/gid).
import type { Dict } from '../../global/dict/dict-api.js';
import { DictRetryError } from '../../global/dict/dict-api.js';
import { openDict } from '../../global/dict/open.js';
import { splitAddress, unquoteLocalPart } from '../../global/addr/address.js';
import { splitExtension } from '../../global/addr/extension.js';
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type {
  DeliveryAgent,
  DeliveryRecipient,
  DeliveryRequest,
  RecipientOutcome,
} from '../../global/queue/delivery-api.js';
import { spawnIdentity } from '../local/identity.js';
import { deliveredToSet, mailCopy, toUnixLines } from '../local/mail-copy.js';
import { appendMbox, deliverMaildir, type LockSettings } from '../local/mail-writer.js';
import { writeSlots } from '../local/maildir-batch.js';

export interface VirtualAgentOptions {
  readonly config: ParamReader;
  readonly logger: Logger;
  readonly openDict?: (spec: string) => Promise<Dict>;
}

interface VirtualSettings {
  readonly mailboxMaps: readonly string[];
  readonly uidMaps: readonly string[];
  readonly gidMaps: readonly string[];
  readonly base: string;
  readonly minimumUid: number;
  readonly limit: number;
  readonly lock: LockSettings;
  readonly delimiter: string;
  readonly originalRecipient: boolean;
}

function settings(c: ParamReader): VirtualSettings {
  return {
    mailboxMaps: c.list('virtual_mailbox_maps'),
    uidMaps: c.list('virtual_uid_maps'),
    gidMaps: c.list('virtual_gid_maps'),
    base: c.get('virtual_mailbox_base'),
    minimumUid: c.int('virtual_minimum_uid'),
    limit: c.size('virtual_mailbox_limit'),
    lock: {
      methods: c.list('virtual_mailbox_lock').map((s) => s.toLowerCase()),
      attempts: c.int('deliver_lock_attempts'),
      delaySeconds: c.time('deliver_lock_delay'),
      staleSeconds: c.time('stale_lock_time'),
    },
    delimiter: c.get('recipient_delimiter'),
    originalRecipient: c.bool('enable_original_recipient'),
  };
}

type Result = Omit<RecipientOutcome, 'index' | 'relay'>;

export function createVirtualAgent(o: VirtualAgentOptions): DeliveryAgent {
  const s = settings(o.config);
  const open = o.openDict ?? ((spec: string) => openDict(spec, { config: o.config, warn: (t) => o.logger.warning(t) }));

  /** virtual(5) keys: user+ext@domain, user@domain, @domain (the catch-all). */
  function keys(address: string): string[] {
    const a = splitAddress(address);
    const local = unquoteLocalPart(a.local).toLowerCase();
    const domain = a.domain.toLowerCase();
    const ext = splitExtension(local, { delimiters: s.delimiter });
    const out = [`${local}@${domain}`];
    if (ext) out.push(`${ext.base}@${domain}`);
    out.push(`@${domain}`);
    return out;
  }

  async function find(maps: readonly string[], address: string): Promise<string | undefined> {
    for (const key of keys(address)) {
      for (const spec of maps) {
        const v = await (await open(spec)).lookup(key);
        if (v !== undefined) return v;
      }
    }
    return undefined;
  }

  async function one(
    req: DeliveryRequest,
    rcpt: DeliveryRecipient,
    lf: Buffer,
    loops: ReadonlySet<string>,
  ): Promise<Result> {
    const address = rcpt.address;
    if (loops.has(address.toLowerCase()))
      return { status: 'bounced', dsn: '5.4.6', reason: `mail forwarding loop for ${address}` };
    const mailbox = await find(s.mailboxMaps, address);
    if (mailbox === undefined)
      return { status: 'bounced', dsn: '5.1.1', reason: `unknown user: "${address.toLowerCase()}"` };
    const uidText = await find(s.uidMaps, address);
    const gidText = await find(s.gidMaps, address);
    const config = (text: string): Result => ({
      status: 'deferred',
      dsn: '4.3.5',
      reason: `mail system configuration error: ${text}`,
    });
    if (uidText === undefined) return config(`recipient ${address}: uid not found in virtual_uid_maps`);
    if (gidText === undefined) return config(`recipient ${address}: gid not found in virtual_gid_maps`);
    const uid = Number(uidText.trim());
    const gid = Number(gidText.trim());
    if (!/^\d+$/.test(uidText.trim()) || uid < s.minimumUid)
      return config(`recipient ${address}: bad uid ${uidText} in virtual_uid_maps`);
    if (!/^\d+$/.test(gidText.trim()) || gid <= 0)
      return config(`recipient ${address}: bad gid ${gidText} in virtual_gid_maps`);
    if (mailbox.includes('..') || mailbox === '') return config(`recipient ${address}: bad mailbox path "${mailbox}"`);
    const path = `${s.base.replace(/\/$/, '')}/${mailbox.replace(/^\//, '')}`;
    if (!path.startsWith('/')) return config(`virtual_mailbox_base must be an absolute path: ${s.base}`);
    const maildir = path.endsWith('/');
    // sendmail -bv: the lookups above are the whole answer; the mailbox is not touched.
    if (req.verifyOnly === true)
      return { status: 'sent', dsn: '2.0.0', reason: maildir ? 'delivers to maildir' : 'delivers to mailbox' };
    const data = mailCopy(lf, {
      fromLine: !maildir,
      mboxQuote: !maildir,
      returnPath: true,
      originalTo: s.originalRecipient ? rcpt.original : undefined,
      deliveredTo: address,
      sender: req.sender,
      time: new Date(req.arrivalTime),
    });
    const who = spawnIdentity({ uid, gid, user: `uid ${uid}` });
    const r = maildir
      ? await deliverMaildir(who, path, data, s.limit, writeSlots.get(req))
      : await appendMbox(who, path, data, { lock: s.lock, limit: s.limit, ownerCheck: true, makeParents: true });
    if (r.ok)
      return { status: 'sent', dsn: '2.0.0', reason: maildir ? 'delivered to maildir' : 'delivered to mailbox' };
    const reason = maildir ? `maildir delivery failed: ${r.reason}` : `cannot update mailbox ${path}: ${r.reason}`;
    return { status: r.dsn.startsWith('5') ? 'bounced' : 'deferred', dsn: r.dsn, reason };
  }

  return {
    command: 'virtual',
    async deliver(req: DeliveryRequest): Promise<RecipientOutcome[]> {
      const parts: Buffer[] = [];
      for await (const b of req.openContent()) parts.push(b);
      const content = Buffer.concat(parts);
      const lf = toUnixLines(content);
      const loops = deliveredToSet(content);
      const out: RecipientOutcome[] = [];
      for (const rcpt of req.recipients) {
        let r: Result;
        try {
          r = await one(req, rcpt, lf, loops);
        } catch (e) {
          if (!(e instanceof DictRetryError))
            o.logger.warning(`${req.queueId}: virtual delivery of ${rcpt.address}: ${(e as Error).message}`);
          r = {
            status: 'deferred',
            dsn: '4.3.0',
            reason: e instanceof DictRetryError ? 'virtual mailbox lookup failure' : 'virtual delivery failed',
          };
        }
        out.push({ index: rcpt.index, relay: 'virtual', ...r });
      }
      return out;
    },
  };
}
