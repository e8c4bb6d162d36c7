// What postcat shows of one message, independent of where it came from (a
// message in the segment store, or a maildrop file): the envelope as
// Postfix's record names (message_arrival_time, sender, original_recipient,
// recipient / done_recipient, named_attribute ...), and the content. Postfix
// prints records of its queue file format; Postern's envelope is JSON, so the
// same names are derived from its fields.
import type { MaildropEnvelope } from '../../global/queue/maildrop.js';
import type { QueuedMessage } from '../../global/queue/store-api.js';
import { asctime } from '../postqueue/showq-format.js';

export interface MessageView {
  /** `deferred/ID`, `maildrop/ID` or the path given on the command line. */
  readonly label: string;
  readonly envelope: readonly string[];
  readonly content: Buffer;
  /** File offset of the first content byte, for -o and -s. */
  readonly contentOffset: number;
}

export function storedEnvelope(m: QueuedMessage, contentOffset: number): string[] {
  const t = Math.floor(m.arrivalTime / 1000);
  const pad = (n: number): string => String(n).padStart(15);
  const lines = [
    `message_size: ${pad(m.size)} ${pad(contentOffset)} ${pad(m.recipients.length)} ${pad(0)} ${pad(m.size)} ${pad(m.smtputf8 ? 1 : 0)}`,
    `message_arrival_time: ${asctime(t)}`,
    `create_time: ${asctime(t)}`,
  ];
  // Postfix's FILTER record (content_filter or an access/header FILTER action) comes right after the times.
  if (m.filter !== undefined) lines.push(`content_filter: ${m.filter}`);
  lines.push(`named_attribute: rewrite_context=${m.client ? 'remote' : 'local'}`, `sender: ${m.sender}`);
  const c = m.client;
  if (c) {
    lines.push(`named_attribute: log_client_name=${c.name}`, `named_attribute: log_client_address=${c.addr}`);
    if (c.port !== undefined) lines.push(`named_attribute: log_client_port=${c.port}`);
    lines.push(`named_attribute: log_message_origin=${c.name}[${c.addr}]`, `named_attribute: log_helo_name=${c.helo}`);
    if (c.protocol !== undefined) lines.push(`named_attribute: log_protocol_name=${c.protocol}`);
  }
  if (m.envid !== undefined) lines.push(`named_attribute: envelope_id=${m.envid}`);
  if (m.ret !== undefined) lines.push(`named_attribute: dsn_ret=${m.ret === 'FULL' ? 1 : 2}`);
  if (m.body !== undefined) lines.push(`named_attribute: encoding=${m.body}`);
  for (const r of m.recipients) {
    if (r.orcpt !== undefined) lines.push(`dsn_original_recipient: ${r.orcpt}`);
    if (r.notify !== undefined) lines.push(`dsn_notify_flags: ${dsnNotifyMask(r.notify)}`);
    lines.push(`original_recipient: ${r.original}`);
    lines.push(`${r.done ? 'done_recipient' : 'recipient'}: ${r.address}`);
  }
  return lines;
}

/** Postfix stores DSN NOTIFY as a bit mask: NEVER 1, SUCCESS 2, FAILURE 4, DELAY 8. */
function dsnNotifyMask(n: readonly string[]): number {
  const bits: Record<string, number> = { NEVER: 1, SUCCESS: 2, FAILURE: 4, DELAY: 8 };
  return n.reduce((m, w) => m | (bits[w] ?? 0), 0);
}

export function maildropEnvelope(env: MaildropEnvelope): string[] {
  const lines = [
    `message_arrival_time: ${asctime(Math.floor(env.arrivalTime / 1000))}`,
    'named_attribute: rewrite_context=local',
  ];
  if (env.fullName !== undefined) lines.push(`sender_fullname: ${env.fullName}`);
  lines.push(`sender: ${env.sender}`);
  for (const r of env.recipients) lines.push(`recipient: ${r}`);
  if (env.extractRecipients) lines.push('named_attribute: extract_recipients=yes');
  return lines;
}

export interface RenderOptions {
  readonly envelope: boolean;
  readonly header: boolean;
  readonly body: boolean;
  readonly offsets: boolean;
  /** -d: the decimal record type before each record. */
  readonly recordTypes: boolean;
  /** -s: start at this file offset (content lines before it are skipped). */
  readonly startOffset: number;
}

/**
 * postcat -d: the decimal type Postfix's queue file gives the record that
 * postcat prints under each name (REC_TYPE_SIZE 'C' = 67, ...). Postern's
 * records are JSON, so the number is that of the Postfix record shown.
 */
const RECORD_TYPES: Readonly<Record<string, number>> = {
  message_size: 67, // C
  message_arrival_time: 84, // T
  create_time: 65, // A (create_time=...)
  content_filter: 76, // L (FILTER)
  named_attribute: 65, // A
  sender_fullname: 70, // F
  sender: 83, // S
  original_recipient: 79, // O
  recipient: 82, // R
  done_recipient: 68, // D
  dsn_original_recipient: 111, // o
  dsn_notify_flags: 110, // n
};
const TYPE_MESG = 77; // M: start of content
const TYPE_NORM = 78; // N: one content line
const TYPE_XTRA = 88; // X: end of content
const TYPE_END = 69; // E: end of file

function typeOf(line: string): number {
  return RECORD_TYPES[line.slice(0, line.indexOf(':'))] ?? 65;
}

/** The postcat text for one message. Section markers appear only with the envelope, as in Postfix. */
export function render(v: MessageView, o: RenderOptions): string {
  const out: string[] = [];
  const off = (n: number, type: number): string =>
    (o.offsets ? `${String(n).padStart(9)} ` : '') + (o.recordTypes ? `${String(type).padStart(3)} ` : '');
  if (o.envelope) {
    out.push(`*** ENVELOPE RECORDS ${v.label} ***\n`);
    for (const l of v.envelope) out.push(`${off(0, typeOf(l))}${l}\n`);
  }
  if (o.header || o.body) {
    if (o.envelope) out.push(`${off(v.contentOffset, TYPE_MESG)}*** MESSAGE CONTENTS ${v.label} ***\n`);
    let inHeader = true;
    let pos = 0;
    const text = v.content;
    while (pos < text.length) {
      let nl = text.indexOf(0x0a, pos);
      if (nl < 0) nl = text.length;
      let end = nl;
      if (end > pos && text[end - 1] === 0x0d) end--;
      const line = text.subarray(pos, end).toString('latin1');
      const at = v.contentOffset + pos;
      pos = nl + 1;
      // The header ends at the first line that is neither a header field nor a continuation.
      if (inHeader && !(/^[\x21-\x39\x3b-\x7e]+:/.test(line) || /^[ \t]/.test(line))) inHeader = false;
      if (at < o.startOffset) continue;
      if (inHeader ? o.header : o.body) out.push(`${off(at, TYPE_NORM)}${line}\n`);
    }
  }
  if (o.envelope) {
    const end = v.contentOffset + v.content.length;
    out.push(`${off(end, TYPE_XTRA)}*** HEADER EXTRACTED ${v.label} ***\n`);
    out.push(`${off(end, TYPE_END)}*** MESSAGE FILE END ${v.label} ***\n`);
  }
  return out.join('');
}
