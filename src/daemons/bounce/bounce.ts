// bounce(8) as a service module: qmgr asks for a non-delivery, delay or
// success notice; this decides who gets it (sender, postmaster copies per
// notify_classes, double bounces to 2bounce_notice_recipient, nothing for
// undeliverable postmaster mail), builds the DSN and injects it through
// cleanup with the null sender. Logs `ID: sender non-delivery notification: NEWID`.
import type { CleanupService } from '../../global/queue/cleanup-api.js';
import type { DsnNotify } from '../../global/queue/cleanup-api.js';
import type { ParamReader } from '../../global/params/types.js';
import type { Logger } from '../../global/log/logger.js';
import { buildNotice, type NoticeRecipient } from './dsn-message.js';
import type { TemplateName } from './notice-text.js';
import { createTemplateSet } from './templates.js';

/** `verify` is sendmail -bv's report: it goes to the sender whatever NOTIFY says. */
export type NoticeRequestKind = 'bounce' | 'delay' | 'success' | 'verify';

export interface NoticeMessage {
  readonly queueId: string;
  readonly sender: string;
  readonly arrivalTime: number;
  readonly size: number;
  readonly envid?: string;
  readonly ret?: 'FULL' | 'HDRS';
  readonly body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  readonly smtputf8?: boolean;
  readonly openContent: () => AsyncIterable<Buffer>;
}

export interface NoticeRequest {
  readonly kind: NoticeRequestKind;
  readonly message: NoticeMessage;
  readonly recipients: readonly (NoticeRecipient & { readonly notify?: readonly DsnNotify[] })[];
}

export interface BounceOptions {
  readonly config: ParamReader;
  readonly cleanup: CleanupService;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** The interface qmgr calls. Resolves when every notice is queued (or was deliberately not sent). */
export interface BounceService {
  notify(req: NoticeRequest): Promise<void>;
}

/** RFC 3461: without NOTIFY, failures and delays are reported, successes not. */
function wants(notify: readonly DsnNotify[] | undefined, what: DsnNotify): boolean {
  if (!notify || notify.length === 0) return what !== 'SUCCESS';
  return notify.includes(what);
}

/** Bounded read of the original message for returning it. */
async function readOriginal(msg: NoticeMessage, limit: number, headersOnly: boolean): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  let carry = '';
  for await (const chunk of msg.openContent()) {
    if (!headersOnly) {
      parts.push(chunk);
      total += chunk.length;
      if (total >= limit) break;
      continue;
    }
    // Headers end at the first empty line.
    const text = carry + chunk.toString('latin1');
    const end = text.search(/(^|\r\n)\r\n/);
    if (end >= 0) {
      parts.push(Buffer.from(text.slice(0, end === 0 ? 0 : end + 2), 'latin1'));
      total = limit;
      break;
    }
    const lastNl = text.lastIndexOf('\r\n');
    parts.push(Buffer.from(text.slice(0, lastNl + 2), 'latin1'));
    carry = text.slice(lastNl + 2);
    total += lastNl + 2;
    if (total >= limit) break;
  }
  const all = Buffer.concat(parts);
  if (all.length <= limit) return all;
  // Cut at a line boundary so the returned part stays well formed.
  const cut = all.subarray(0, limit).lastIndexOf('\r\n');
  return all.subarray(0, cut < 0 ? 0 : cut + 2);
}

export function createBounceService(opts: BounceOptions): BounceService {
  const { config, cleanup, logger } = opts;
  const now = opts.now ?? Date.now;
  const templates = createTemplateSet(config, logger);

  async function send(
    req: NoticeRequest,
    kind: TemplateName,
    postmasterCopy: boolean,
    to: string,
    envelopeSender: string,
    recipients: readonly NoticeRecipient[],
    returnFull: boolean,
    label: string,
  ): Promise<void> {
    const msg = req.message;
    const limit = config.int('bounce_size_limit');
    const full = returnFull && msg.size <= limit;
    // Headers alone are always returned whole (up to header_size_limit): cut headers help no one.
    const original = full
      ? await readOriginal(msg, limit, false)
      : await readOriginal(msg, Math.max(limit, config.int('header_size_limit')), true);
    const eightBit = msg.body === '8BITMIME' || msg.body === 'BINARYMIME';
    const template = await templates.get(kind);
    // The notice carries the original's 8-bit (or UTF-8) text, so it must be declared as such.
    const tx = await cleanup.open({
      origin: 'bounce',
      sender: envelopeSender,
      arrivalTime: now(),
      ...(eightBit ? { body: '8BITMIME' as const } : {}),
      ...(msg.smtputf8 ? { smtputf8: true } : {}),
    });
    try {
      tx.addRecipient({ address: to });
      const t = now();
      tx.write(
        buildNotice({
          template,
          postmasterCopy,
          queueId: msg.queueId,
          noticeId: tx.queueId,
          sender: msg.sender,
          to,
          arrivalTime: msg.arrivalTime,
          now: t,
          ...(msg.envid ? { envid: msg.envid } : {}),
          recipients,
          myhostname: config.get('myhostname'),
          returnContent: full ? 'full' : 'headers',
          original,
          eightBit,
          ...(kind === 'delay' ? { retryUntil: msg.arrivalTime + config.time('maximal_queue_lifetime') * 1000 } : {}),
        }),
      );
    } catch (e) {
      await tx.abort();
      throw e;
    }
    const verdict = await tx.commit();
    if (verdict.status === 'rejected') {
      logger.warning(`${msg.queueId}: ${label} notification rejected by cleanup: ${verdict.reply.text}`);
      return;
    }
    logger.info(`${msg.queueId}: ${label} notification: ${verdict.queueId}`);
  }

  const myorigin = (): string => config.get('myorigin');
  const doubleBounceSender = (): string => `${config.get('double_bounce_sender')}@${myorigin()}`;
  const classes = (): string[] => config.list('notify_classes').map((c) => c.toLowerCase());
  const isDoubleBounceSender = (s: string): boolean =>
    s.toLowerCase() === doubleBounceSender().toLowerCase() ||
    s.toLowerCase() === config.get('double_bounce_sender').toLowerCase();

  return {
    async notify(req) {
      const msg = req.message;
      const what: DsnNotify = req.kind === 'bounce' ? 'FAILURE' : req.kind === 'delay' ? 'DELAY' : 'SUCCESS';
      if (isDoubleBounceSender(msg.sender)) {
        // Mail from the double-bounce address goes nowhere when it fails, or it could loop.
        if (req.kind === 'bounce') logger.info(`${msg.queueId}: undeliverable postmaster notification discarded`);
        return;
      }
      const cls = classes();
      if (msg.sender === '') {
        // A bounce that bounced: only the postmaster may hear of it, and only with 2bounce.
        if (req.kind === 'bounce' && (cls.includes('2bounce') || cls.includes('bounce'))) {
          const to = config.get('2bounce_notice_recipient');
          // The undeliverable bounce itself goes to the postmaster, whole (within bounce_size_limit).
          await send(req, 'failure', true, to, doubleBounceSender(), req.recipients, true, 'postmaster non-delivery');
        } else if (req.kind === 'bounce') {
          logger.info(`${msg.queueId}: undeliverable bounce discarded (notify_classes has no 2bounce)`);
        }
        return;
      }
      if (req.kind === 'verify') {
        await send(req, 'verify', false, msg.sender, '', req.recipients, false, 'sender delivery status');
        return;
      }
      const chosen = req.recipients.filter((r) => wants(r.notify, what));
      if (chosen.length > 0) {
        const kind: TemplateName = req.kind === 'bounce' ? 'failure' : req.kind;
        const label =
          req.kind === 'bounce'
            ? 'sender non-delivery'
            : req.kind === 'delay'
              ? 'sender delay'
              : 'sender delivery status';
        await send(req, kind, false, msg.sender, '', chosen, req.kind === 'bounce' && msg.ret !== 'HDRS', label);
      }
      if (req.kind === 'bounce' && cls.includes('bounce')) {
        const to = config.get('bounce_notice_recipient');
        await send(req, 'failure', true, to, doubleBounceSender(), req.recipients, false, 'postmaster non-delivery');
      }
      if (req.kind === 'delay' && cls.includes('delay')) {
        const to = config.get('delay_notice_recipient');
        await send(req, 'delay', true, to, doubleBounceSender(), req.recipients, false, 'postmaster delay');
      }
    },
  };
}
