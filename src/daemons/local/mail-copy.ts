// The bytes a mailbox, maildir file or command receives (Postfix's
// mail_copy()): queue content turned from CRLF into LF lines, with the
// envelope headers local(8) prepends (Return-Path:, X-Original-To:,
// Delivered-To:), and for mbox files the `From ` separator line, `>From `
// quoting and a blank line at the end. Also the header scan behind
// "mail forwarding loop for ..." (Delivered-To: already naming the recipient).
// Pure functions.

export interface CopyOptions {
  /** `From sender  date` separator first (mbox files, commands). */
  readonly fromLine?: boolean;
  /** `>From ` quoting of body lines and a trailing blank line (mbox files). */
  readonly mboxQuote?: boolean;
  readonly returnPath?: boolean;
  /** X-Original-To: value (enable_original_recipient), when known. */
  readonly originalTo?: string;
  /** Delivered-To: value; lower-cased as Postfix writes it. */
  readonly deliveredTo?: string;
  readonly sender: string;
  /** Arrival time, for the `From ` line. */
  readonly time: Date;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** asctime(3) in local time: `Thu Nov  6 01:02:03 2026`. */
export function asctime(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getDay()] ?? ''} ${MONTHS[d.getMonth()] ?? ''} ${String(d.getDate()).padStart(2, ' ')} ` +
    `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`
  );
}

/** Queue content (CRLF lines) as LF lines; a missing final newline is supplied. */
export function toUnixLines(content: Buffer): Buffer {
  const out = Buffer.allocUnsafe(content.length + 1);
  let o = 0;
  for (let i = 0; i < content.length; i++) {
    const c = content[i] ?? 0;
    if (c === 0x0d && content[i + 1] === 0x0a) continue;
    out[o++] = c;
  }
  if (o > 0 && out[o - 1] !== 0x0a) out[o++] = 0x0a;
  return out.subarray(0, o);
}

const FROM_ = Buffer.from('From ');

/** `>From ` for every line that starts with `From ` (the mbox convention Postfix follows). */
function quoteFromLines(lf: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < lf.length;) {
    if (lf.subarray(i, i + 5).equals(FROM_)) {
      parts.push(lf.subarray(start, i), Buffer.from('>'));
      start = i;
    }
    const nl = lf.indexOf(0x0a, i);
    if (nl < 0) break;
    i = nl + 1;
  }
  parts.push(lf.subarray(start));
  return Buffer.concat(parts);
}

/** Header line text safe for one line: no CR/LF smuggled in from an address. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

export function mailCopy(lfContent: Buffer, o: CopyOptions): Buffer {
  let head = '';
  if (o.fromLine) head += `From ${oneLine(o.sender || 'MAILER-DAEMON')}  ${asctime(o.time)}\n`;
  if (o.returnPath) head += `Return-Path: <${oneLine(o.sender)}>\n`;
  if (o.originalTo) head += `X-Original-To: ${oneLine(o.originalTo)}\n`;
  if (o.deliveredTo) head += `Delivered-To: ${oneLine(o.deliveredTo.toLowerCase())}\n`;
  const body = o.mboxQuote ? quoteFromLines(lfContent) : lfContent;
  const tail = o.mboxQuote ? Buffer.from('\n') : Buffer.alloc(0);
  return Buffer.concat([Buffer.from(head, 'utf8'), body, tail]);
}

/** Header section fields by lower-cased name, values unfolded and trimmed. */
export function headerValues(content: Buffer, name: string, limit = 1 << 20): string[] {
  const text = content.subarray(0, Math.min(content.length, limit)).toString('latin1');
  const want = name.toLowerCase();
  const out: string[] = [];
  let current: { name: string; value: string } | undefined;
  const flush = (): void => {
    if (current?.name === want) out.push(current.value.trim());
    current = undefined;
  };
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') break;
    if (/^[ \t]/.test(line)) {
      if (current) current.value += ` ${line.trim()}`;
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    if (colon <= 0) break;
    current = { name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1) };
  }
  flush();
  return out;
}

/** The Delivered-To: addresses already in the message, lower-cased, for loop detection. */
export function deliveredToSet(content: Buffer): Set<string> {
  return new Set(headerValues(content, 'delivered-to').map((v) => v.toLowerCase()));
}

/** `Delivered-To: addr` CRLF line prepended to forwarded content. */
export function prependDeliveredTo(content: Buffer, address: string): Buffer {
  return Buffer.concat([Buffer.from(`Delivered-To: ${oneLine(address.toLowerCase())}\r\n`, 'utf8'), content]);
}
