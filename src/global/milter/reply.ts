// What a milter decided about one event, in the shape smtpd and cleanup act
// on (Postfix's milter8 encodes these as "H", "D", "S" or an SMTP reply
// string): a 4xx/5xx reply, quarantine (→ hold), discard, or shutdown (421
// and hang up). `undefined` everywhere means "continue".
import type { SmtpReply } from '../smtp/reply.js';

export type MilterVerdict =
  | { readonly kind: 'reply'; readonly reply: SmtpReply }
  | { readonly kind: 'hold'; readonly reason: string }
  | { readonly kind: 'discard' }
  | { readonly kind: 'shutdown' };

export const REJECTED: MilterVerdict = replyVerdict('550 5.7.1 Command rejected');
export const TEMPFAILED: MilterVerdict = replyVerdict('451 4.7.1 Service unavailable - try again later');

/**
 * An SMTP reply as text (`550 5.7.1 text`, or multi-line `550-5.7.1 a\r\n550
 * 5.7.1 b`) as a typed reply; the DSN and the code prefix come off every line.
 * The caller has checked that it starts with a 4xx/5xx code.
 */
export function parseReplyText(text: string): SmtpReply {
  const code = Number.parseInt(text.slice(0, 3), 10);
  const lines = text.split(/\r?\n/).filter((l, i, all) => l !== '' || i < all.length - 1);
  const dsnRe = /^([245])\.\d{1,3}\.\d{1,3}(?: |$)/;
  const first = (lines[0] ?? '').slice(4);
  const dsnMatch = dsnRe.exec(first);
  const dsn = dsnMatch ? dsnMatch[0].trim() : '';
  const texts = lines.map((l) => {
    let t = /^\d{3}[ -]?/.test(l) ? l.replace(/^\d{3}[ -]?/, '') : l;
    if (dsn !== '' && t.startsWith(dsn)) t = t.slice(dsn.length).replace(/^ /, '');
    return t;
  });
  return { code, dsn, text: texts.join('\n') };
}

export function replyVerdict(text: string): MilterVerdict {
  return { kind: 'reply', reply: parseReplyText(text) };
}

/** The reply as one log string: `550 5.7.1 Command rejected`. */
export function verdictText(v: MilterVerdict): string {
  switch (v.kind) {
    case 'reply':
      return `${v.reply.code} ${v.reply.dsn ? `${v.reply.dsn} ` : ''}${v.reply.text.split('\n').join(' ')}`;
    case 'hold':
      return 'milter triggers HOLD action';
    case 'discard':
      return 'milter triggers DISCARD action';
    case 'shutdown':
      return '421 4.7.0 Server closing connection';
  }
}
