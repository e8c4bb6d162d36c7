// RFC 5322 dates the way Postfix's mail_date() writes them, one copy for every
// writer (cleanup's Date:, smtpd's Received:, bounce notices):
// `Thu, 26 Nov 2026 00:57:20 +0000 (UTC)` — local time, the day of month
// blank-padded to two columns (`Mon,  6 Feb`, strftime's %e), numeric offset,
// and the zone abbreviation as a comment when the zone has one.

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number): string => n.toString().padStart(2, '0');

// One formatter, and the last minute's answer: constructing Intl.DateTimeFormat
// per message was a measurable share of cleanup's CPU (bench/RESULTS.md).
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
    // Intl spells zones without an abbreviation `GMT+1`; such a comment says nothing the offset does not.
    name = /^[A-Z]{2,5}$/.test(v) ? v : '';
  } catch {
    name = '';
  }
  zoneMemo = { minute, offset, name };
  return name;
}

// Every message of the same second gets the same text (an offset change, DST, falls on a second boundary).
let dateMemo = { second: NaN, text: '' };

export function mailDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (dateMemo.second === second) return dateMemo.text;
  const text = formatMailDate(ms);
  dateMemo = { second, text };
  return text;
}

function formatMailDate(ms: number): string {
  const d = new Date(ms);
  const zone = zoneName(d);
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return (
    `${DAYS[d.getDay()] ?? ''}, ${d.getDate().toString().padStart(2, ' ')} ${MONTHS[d.getMonth()] ?? ''} ${d.getFullYear()} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}` +
    (zone ? ` (${zone})` : '')
  );
}

/** The `YYYYMMDDhhmmss` prefix of Message-Id values cleanup generates, in UTC as Postfix does. */
export function messageIdStamp(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}
