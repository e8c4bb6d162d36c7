// Builds RFC 3464 delivery status notifications as bounce(8) sends them: a
// multipart/report with the human-readable text, the message/delivery-status
// part (Reporting-MTA, X-Postfix-Queue-ID kept for tool compatibility,
// per-recipient blocks) and the returned message or its headers (RFC 3462).
// The first part is the template's text (none in postmaster copies), then one
// line per recipient; text that is not ASCII goes out quoted-printable.
import { mailDate } from '../../global/mail-date.js';
import { encodeQuotedPrintable } from '../smtp/mime-convert.js';
import type { NoticeTemplate } from './templates.js';

export interface NoticeRecipient {
  readonly address: string;
  readonly original: string;
  readonly orcpt?: string;
  /** RFC 3464 Action; `deliverable`/`undeliverable` are the sendmail -bv report's, as Postfix writes them. */
  readonly action: 'failed' | 'delayed' | 'delivered' | 'relayed' | 'deliverable' | 'undeliverable';
  readonly dsn: string;
  readonly reason: string;
  readonly relay: string;
  readonly remoteReply?: string;
}

export interface NoticeInput {
  readonly template: NoticeTemplate;
  /** A postmaster copy: Postmaster-Subject, and no template text (bounce(5)). */
  readonly postmasterCopy: boolean;
  readonly queueId: string;
  /** The new notice's own queue ID (for Message-Id). */
  readonly noticeId: string;
  readonly sender: string;
  readonly to: string;
  readonly arrivalTime: number;
  readonly now: number;
  readonly envid?: string;
  readonly recipients: readonly NoticeRecipient[];
  readonly myhostname: string;
  /** `full`: the whole original message; `headers`: text/rfc822-headers. */
  readonly returnContent: 'full' | 'headers';
  /** The original message, CRLF lines; already cut to what may be returned. */
  readonly original: Buffer;
  readonly eightBit: boolean;
  /** Will-Retry-Until for delay notices, ms since epoch. */
  readonly retryUntil?: number;
}

/** `mx.example.com[192.0.2.1]:25` → `mx.example.com`; `none`/`local` are not remote MTAs. */
export function remoteMtaName(relay: string): string | undefined {
  const name = relay.replace(/\[.*$/, '');
  if (!name || name === 'none' || name === 'local' || name === 'virtual' || !relay.includes('[')) return undefined;
  return name;
}

/** Report text comes from remote servers: no line breaks or controls may reach the MIME structure. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ');
}

function recipientLine(r: NoticeRecipient): string {
  const expanded = r.original && r.original !== r.address ? ` (expanded from <${oneLine(r.original)}>)` : '';
  return `<${oneLine(r.address)}>${expanded}: ${oneLine(r.reason)}`;
}

function deliveryStatus(n: NoticeInput): string[] {
  const out = [`Reporting-MTA: dns; ${n.myhostname}`, `X-Postfix-Queue-ID: ${n.queueId}`];
  out.push(`X-Postfix-Sender: rfc822; ${oneLine(n.sender)}`);
  if (n.envid) out.push(`Original-Envelope-Id: ${oneLine(n.envid)}`);
  out.push(`Arrival-Date: ${mailDate(n.arrivalTime)}`);
  for (const r of n.recipients) {
    out.push('', `Final-Recipient: rfc822; ${oneLine(r.address)}`);
    if (r.orcpt) out.push(`Original-Recipient: ${oneLine(r.orcpt)}`);
    else if (r.original && r.original !== r.address) out.push(`Original-Recipient: rfc822; ${oneLine(r.original)}`);
    out.push(`Action: ${r.action}`, `Status: ${r.dsn}`);
    const mta = remoteMtaName(r.relay);
    if (mta) out.push(`Remote-MTA: dns; ${mta}`);
    out.push(
      r.remoteReply
        ? `Diagnostic-Code: smtp; ${oneLine(r.remoteReply)}`
        : `Diagnostic-Code: X-Postfix; ${oneLine(r.reason)}`,
    );
    if (n.retryUntil !== undefined) out.push(`Will-Retry-Until: ${mailDate(n.retryUntil)}`);
  }
  return out;
}

/** Long diagnostic lines are folded so no line exceeds RFC 5322's 998 octets. */
function fold(line: string): string[] {
  if (line.length <= 900) return [line];
  const out: string[] = [];
  for (let i = 0; i < line.length; i += 900) out.push((i ? '\t' : '') + line.slice(i, i + 900));
  return out;
}

/** The human-readable part: template text, then the recipients; charset and encoding to match. */
function textPart(n: NoticeInput): string[] {
  const lines = [
    ...(n.postmasterCopy ? [] : [...n.template.lines, '']),
    ...n.recipients.flatMap((r) => fold(recipientLine(r))),
  ];
  const text = lines.join('\r\n');
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) {
    return ['Content-Description: Notification', `Content-Type: text/plain; charset=${n.template.charset}`, '', text];
  }
  // A template in another charset, or UTF-8 addresses: the Charset: header says which, QP keeps it 7-bit safe.
  const charset = n.template.charset.toLowerCase() === 'us-ascii' ? 'utf-8' : n.template.charset;
  return [
    'Content-Description: Notification',
    `Content-Type: text/plain; charset=${charset}`,
    'Content-Transfer-Encoding: quoted-printable',
    '',
    encodeQuotedPrintable(Buffer.from(text, 'utf8').toString('latin1')),
  ];
}

export function buildNotice(n: NoticeInput): Buffer {
  const t = n.template;
  const boundary = `${n.queueId}.${Math.floor(n.now / 1000)}/${n.myhostname}`;
  const head = [
    `Date: ${mailDate(n.now)}`,
    `From: ${oneLine(t.from)}`,
    `Subject: ${oneLine(n.postmasterCopy ? t.postmasterSubject : t.subject)}`,
    `To: ${oneLine(n.to)}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;',
    `\tboundary="${boundary}"`,
    `Content-Transfer-Encoding: ${n.eightBit ? '8bit' : '7bit'}`,
    `Message-Id: <${Math.floor(n.now / 1000)}.${n.noticeId}@${n.myhostname}>`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    ...textPart(n),
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    ...deliveryStatus(n).flatMap(fold),
    '',
    `--${boundary}`,
    n.returnContent === 'full' ? 'Content-Description: Undelivered Message' : 'Content-Description: Message Headers',
    n.returnContent === 'full' ? 'Content-Type: message/rfc822' : 'Content-Type: text/rfc822-headers',
    ...(n.eightBit ? ['Content-Transfer-Encoding: 8bit'] : []),
    '',
  ];
  const tail = ['', `--${boundary}--`, ''];
  let original = n.original;
  if (original.length > 0 && !original.subarray(-2).equals(Buffer.from('\r\n'))) {
    original = Buffer.concat([original, Buffer.from('\r\n')]);
  }
  // A returned line that equals the boundary would end the part early; neutralise it.
  const safe = Buffer.from(
    original.toString('latin1').replace(new RegExp(`^--${escapeRe(boundary)}`, 'gm'), ` --${boundary}`),
    'latin1',
  );
  return Buffer.concat([Buffer.from(head.join('\r\n') + '\r\n', 'utf8'), safe, Buffer.from(tail.join('\r\n'), 'utf8')]);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
