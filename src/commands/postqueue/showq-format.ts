// postqueue -p (mailq) and postqueue -j output, field for field as Postfix's
// postqueue prints what showq(8) reports: the Sendmail-style listing with
// `*` (active), `!` (hold) or `#` (force-expired) after the queue ID, the size, the arrival time
// in asctime(3) form, the sender, each pending recipient under its
// right-aligned `(deferral reason)`, and the `-- N Kbytes in M Requests.`
// summary; and one JSON object per message with Postfix's field names.
import { entryId, queueName, type QueueEntry } from './queue-snapshot.js';

export interface ShowqRecipient {
  readonly address: string;
  /** '' when there is no reason (never tried, or not deferred). */
  readonly reason: string;
}

export interface ShowqMessage {
  readonly queueName: string;
  readonly queueId: string;
  /** Seconds since the epoch. */
  readonly arrivalTime: number;
  readonly size: number;
  readonly sender: string;
  readonly recipients: readonly ShowqRecipient[];
  /** postsuper -e/-f: shown as `#` and `"forced_expire": true`. */
  readonly forcedExpire?: boolean;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** asctime(localtime(t)) without the newline: `Thu Nov  6 01:02:03 2026`. */
export function asctime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ` +
    `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`
  );
}

/** Non-printable characters become `?`, as Postfix's printable() does. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, '?');
}

/** The externalized (RFC 5321) form: a local part with specials is quoted. */
export function quoteLocal(address: string): string {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  const domain = at < 0 ? '' : address.slice(at);
  if (local === '' || /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local)) {
    return address;
  }
  if (/^".*"$/.test(local)) return address;
  return `"${local.replace(/(["\\])/g, '\\$1')}"${domain}`;
}

export function toShowq(e: QueueEntry, emptyAddress: string): ShowqMessage {
  if (e.kind === 'maildrop') {
    const env = e.envelope;
    return {
      queueName: 'maildrop',
      queueId: e.queueId,
      arrivalTime: Math.floor((env?.arrivalTime ?? e.mtime) / 1000),
      size: e.size,
      sender: env ? (env.sender === '' ? emptyAddress : env.sender) : emptyAddress,
      recipients: (env?.recipients ?? []).map((a) => ({ address: a, reason: '' })),
    };
  }
  const m = e.message;
  return {
    queueName: queueName(e),
    queueId: entryId(e),
    arrivalTime: Math.floor(m.arrivalTime / 1000),
    size: m.size,
    sender: m.sender === '' ? emptyAddress : m.sender,
    recipients: m.recipients.filter((r) => !r.done).map((r) => ({ address: r.address, reason: r.lastReason ?? '' })),
    ...(m.expired === true ? { forcedExpire: true } : {}),
  };
}

/** The mailq listing. `longIds`: enable_long_queue_ids widens the columns as Postfix does. */
export function formatMailq(messages: readonly ShowqMessage[], longIds: boolean): string {
  const out: string[] = [];
  const idw = longIds ? 17 : 11;
  const sizew = longIds ? 8 : 7;
  const timew = longIds ? 19 : 20;
  const row = (id: string, size: string, time: string, addr: string): string =>
    `${id.padEnd(idw)} ${size.padStart(sizew)} ${time.padEnd(timew)} ${addr}\n`;
  let total = 0;
  messages.forEach((m, n) => {
    if (n > 0) out.push('\n');
    else if (longIds) out.push(row('----Queue ID-----', '--Size--', '---Arrival Time----', '--Sender/Recipient------'));
    else out.push(row('-Queue ID-', '--Size--', '----Arrival Time----', '-Sender/Recipient-------'));
    const mark = m.queueName === 'active' ? '*' : m.queueName === 'hold' ? '!' : m.forcedExpire === true ? '#' : '';
    // asctime is 24 characters; the short format shows 20 of them (with the space before the year).
    const time = `${asctime(m.arrivalTime)}\n`.slice(0, timew);
    out.push(row(`${m.queueId}${mark}`, String(m.size), time, printable(quoteLocal(m.sender))));
    let saved = '';
    for (const r of m.recipients) {
      if (r.reason !== saved) {
        saved = r.reason;
        const shown = printable(r.reason || 'reason unavailable');
        out.push(`${' '.repeat(Math.max(0, 76 - shown.length))}(${shown})\n`);
      }
      out.push(row('', '', '', printable(quoteLocal(r.address))));
    }
    total += m.size;
  });
  if (messages.length === 0) out.push('Mail queue is empty\n');
  else {
    const n = messages.length;
    out.push(`\n-- ${Math.floor(total / 1024)} Kbytes in ${n} Request${n === 1 ? '' : 's'}.\n`);
  }
  return out.join('');
}

/** postqueue -j: one JSON object per line, Postfix's field names and order. */
export function formatJson(messages: readonly ShowqMessage[]): string {
  const s = (v: string): string => JSON.stringify(v);
  return messages
    .map((m) => {
      const rcpts = m.recipients
        .map((r) => `{"address": ${s(r.address)}${r.reason ? `, "delay_reason": ${s(r.reason)}` : ''}}`)
        .join(', ');
      return (
        `{"queue_name": ${s(m.queueName)}, "queue_id": ${s(m.queueId)}, "arrival_time": ${m.arrivalTime}, ` +
        `"message_size": ${m.size}, "forced_expire": ${m.forcedExpire === true}, "sender": ${s(m.sender)}, "recipients": [${rcpts}]}\n`
      );
    })
    .join('');
}
