// The Received: header smtpd(8) prepends to every message, in Postfix's
// exact layout (RFC 5321 section 4.4 trace field): the HELO name, the
// verified client name and address, our host, mail_name, the protocol
// (SMTP/ESMTP/ESMTPS/ESMTPA/ESMTPSA or the UTF8SMTP forms) and queue ID, and a
// `for` clause only when the message has exactly one recipient.

export interface ReceivedFacts {
  readonly helo: string | undefined;
  readonly clientName: string;
  /** Address as it appears inside brackets: `192.0.2.1` or `IPv6:2001:db8::1`. */
  readonly rfcAddr: string;
  readonly myhostname: string;
  readonly mailName: string;
  readonly protocol: string;
  readonly queueId: string;
  readonly recipients: readonly string[];
  readonly date: Date;
  /** Comment lines between `from` and `by`: TLS details, `Authenticated sender:` (without the tab). */
  readonly comments?: readonly string[];
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function two(n: number): string {
  return String(n).padStart(2, '0');
}

// Building an Intl.DateTimeFormat costs more than the rest of the Received:
// header; the zone name can only change on a minute boundary (DST), so one
// formatter and the last minute's answer serve every message.
let zoneFormat: Intl.DateTimeFormat | undefined;
let zoneMemo = { minute: NaN, offset: NaN, name: '' };

function zoneName(d: Date): string {
  const minute = Math.floor(d.getTime() / 60_000);
  const offset = d.getTimezoneOffset();
  if (zoneMemo.minute === minute && zoneMemo.offset === offset) return zoneMemo.name;
  let name = '';
  try {
    zoneFormat ??= new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' });
    const v = zoneFormat.formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? '';
    name = /^[A-Z]{2,5}$/.test(v) ? v : '';
  } catch {
    name = '';
  }
  zoneMemo = { minute, offset, name };
  return name;
}

// Every message of the same second gets the same text (an offset change, DST, falls on a second boundary).
let dateMemo = { second: NaN, text: '' };

/** RFC 5322 date in local time as Postfix's mail_date() writes it: `Thu, 26 Nov 2026 00:58:33 +0000 (UTC)`. */
export function mailDate(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (dateMemo.second === second) return dateMemo.text;
  const text = formatMailDate(d);
  dateMemo = { second, text };
  return text;
}

function formatMailDate(d: Date): string {
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  const zone = zoneName(d);
  return (
    `${DAYS[d.getDay()] ?? ''}, ${d.getDate()} ${MONTHS[d.getMonth()] ?? ''} ${d.getFullYear()} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${sign}${two(Math.floor(abs / 60))}${two(abs % 60)}` +
    (zone ? ` (${zone})` : '')
  );
}

/** The header as CRLF-terminated lines, ready for the queue file. */
export function receivedHeader(f: ReceivedFacts): string {
  const lines = [`Received: from ${f.helo ?? f.clientName} (${f.clientName} [${f.rfcAddr}])`];
  for (const c of f.comments ?? []) lines.push(`\t${c}`);
  const by = `\tby ${f.myhostname} (${f.mailName}) with ${f.protocol} id ${f.queueId}`;
  const only = f.recipients.length === 1 ? f.recipients[0] : undefined;
  if (only !== undefined) {
    lines.push(by, `\tfor <${only}>; ${mailDate(f.date)}`);
  } else {
    lines.push(`${by};`, `\t${mailDate(f.date)}`);
  }
  return lines.map((l) => `${l}\r\n`).join('');
}
