// The mail-log lines qmgr writes in Postfix's exact shape: the per-recipient
// `to=<...>, relay=..., delay=..., delays=a/b/c/d, dsn=..., status=...` line
// (written under the delivery agent's name), `removed`
// and `status=expired, returned to sender`; for sendmail -bv, `status=deliverable`/`undeliverable`.
import type { RecipientOutcome } from '../../global/queue/delivery-api.js';

/**
 * Postfix prints delays with two significant digits, at most
 * delay_logging_resolution_limit digits after the point, and no trailing zeros.
 */
export function formatDelay(seconds: number, resolution = 2): string {
  if (!(seconds > 0)) return '0';
  if (seconds >= 100) return String(Math.round(seconds));
  // Four of these per status line, and the same few values (whole milliseconds) over and over.
  const memo = delayMemo[resolution];
  const known = memo?.get(seconds);
  if (known !== undefined) return known;
  const digits = Math.min(Math.max(0, resolution), 6);
  const rounded = Number(seconds.toPrecision(2));
  const fixed = rounded.toFixed(digits).replace(/\.?0+$/, '');
  const text = fixed === '' || fixed === '-0' ? '0' : fixed;
  if (memo) {
    if (memo.size >= DELAY_MEMO_LIMIT) memo.clear();
    memo.set(seconds, text);
  }
  return text;
}

/** Per delay_logging_resolution_limit 0..6: seconds → text, bounded. */
const delayMemo: Map<number, string>[] = Array.from({ length: 7 }, () => new Map<number, string>());
const DELAY_MEMO_LIMIT = 4096;

/** Untrusted text (remote replies, addresses) made safe for one log line, as Postfix's printable() does. */
export function printable(text: string, max = 2048): string {
  // Three of these per status line, nearly always clean: a test is cheaper than a replace that finds nothing.
  const t = CONTROL.test(text) ? text.replace(CONTROLS, '?') : text;
  return t.length > max ? `${t.slice(0, max)}...` : t;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x1f\x7f]/g;

export interface DelayParts {
  /** Before the active queue. */
  readonly beforeActive: number;
  /** In the active queue, waiting for a delivery agent. */
  readonly inActive: number;
  /** Connection set-up (0 when the agent does not report it). */
  readonly setup: number;
  /** Transmission. */
  readonly transmission: number;
}

export function recipientLogLine(
  queueId: string,
  rcpt: { readonly address: string; readonly original: string },
  outcome: RecipientOutcome,
  total: number,
  d: DelayParts,
  resolution = 2,
  verifyOnly = false,
): string {
  const f = (s: number): string => formatDelay(s, resolution);
  const orig = rcpt.original && rcpt.original !== rcpt.address ? `, orig_to=<${printable(rcpt.original)}>` : '';
  return (
    `${queueId}: to=<${printable(rcpt.address)}>${orig}, relay=${printable(outcome.relay)}, delay=${f(total)}, ` +
    `delays=${f(d.beforeActive)}/${f(d.inActive)}/${f(d.setup)}/${f(d.transmission)}, ` +
    `dsn=${outcome.dsn}, status=${verifyOnly ? verifyStatus(outcome.status) : outcome.status} (${printable(outcome.reason)})`
  );
}

/** sendmail -bv: Postfix logs what would happen, `deliverable` or `undeliverable`, instead of a delivery status. */
export function verifyStatus(status: RecipientOutcome['status']): 'deliverable' | 'undeliverable' {
  return status === 'sent' ? 'deliverable' : 'undeliverable';
}

export const removedLine = (queueId: string): string => `${queueId}: removed`;

export const expiredLine = (queueId: string, sender: string): string =>
  `${queueId}: from=<${sender}>, status=expired, returned to sender`;

/** postsuper -e/-f (Postfix 3.5+). */
export const forceExpiredLine = (queueId: string, sender: string): string =>
  `${queueId}: from=<${sender}>, status=force-expired, returned to sender`;
