// HELO and EHLO (RFC 5321 section 4.1.1.1): name the client, reset any
// transaction, and for EHLO list the extensions in Postfix's order minus
// smtpd_discard_ehlo_keywords.
import type { Session } from '../session.js';
import { checkStages } from '../transaction.js';
import type { SmtpdCommand } from '../types.js';
import { printableText } from '../printable.js';
import { milterHelo } from '../milter-hooks.js';

/** Extensions in the order Postfix's smtpd advertises them. */
function ehloKeywords(s: Session): string[] {
  const st = s.settings;
  const list: string[] = ['PIPELINING', st.messageSizeLimit > 0 ? `SIZE ${st.messageSizeLimit}` : 'SIZE'];
  if (!st.disableVrfy) list.push('VRFY');
  list.push('ETRN');
  if (!s.tls && s.deps.tls?.available()) list.push('STARTTLS');
  const mechs = st.saslAuthEnable ? (s.deps.auth?.mechanisms(s.tls) ?? []) : [];
  // smtpd_sasl_exceptions_networks hides AUTH from some clients (broken ones that insist once they see it).
  const hidden = s.deps.lists.saslExceptions.matches(s.client);
  if (mechs.length > 0 && s.saslUsername === undefined && !hidden) {
    list.push(`AUTH ${mechs.join(' ')}`);
    // broken_sasl_auth_clients: Outlook Express 4 and Microsoft Exchange 5.0 read only `AUTH=`.
    if (st.brokenSaslAuthClients) list.push(`AUTH=${mechs.join(' ')}`);
  }
  if (s.xclientAllowed) list.push('XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT');
  if (s.xforwardAllowed) list.push('XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT');
  list.push('ENHANCEDSTATUSCODES', '8BITMIME', 'DSN');
  if (st.smtputf8Enable) list.push('SMTPUTF8');
  list.push('CHUNKING');
  return list;
}

function discard(s: Session, keywords: string[]): string[] {
  const drop = s.settings.discardEhloKeywords;
  if (drop.length === 0) return keywords;
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const k of keywords) {
    const name = (k.split(' ')[0] ?? '').toLowerCase();
    (drop.includes(name) ? dropped : kept).push(k);
  }
  if (dropped.length > 0 && !drop.includes('silent-discard')) {
    s.logger.info(`discarding EHLO keywords: ${dropped.map((k) => k.split(' ')[0] ?? '').join(' ')}`);
  }
  return kept;
}

async function greet(s: Session, args: string, esmtp: boolean): Promise<boolean> {
  const verb = esmtp ? 'EHLO' : 'HELO';
  if (args === '') {
    s.reply(501, '', `Syntax: ${verb} hostname`);
    return false;
  }
  await s.abortTransaction();
  const previous = { helo: s.helo, esmtp: s.esmtp };
  s.helo = printableText(args.replace(/[ \t]+/g, ' '), 255);
  s.esmtp = esmtp;
  if (!s.settings.delayReject && !(await checkStages(s, ['helo'], {}))) {
    s.helo = previous.helo;
    s.esmtp = previous.esmtp;
    return false;
  }
  // A milter's 5xx at CONNECT or HELO is answered at MAIL FROM (Sendmail's way); only 421 ends things now.
  const milter = await milterHelo(s, s.helo);
  if (milter.reply421) {
    s.sendReply(milter.reply421);
    s.hangup();
    return false;
  }
  if (!esmtp) {
    s.pipeliningOffered = false;
    s.reply(250, '', s.settings.myhostname);
    return true;
  }
  // After a milter's 5xx, Postfix offers nothing but ENHANCEDSTATUSCODES.
  const keywords = milter.reject5xx ? ['ENHANCEDSTATUSCODES'] : discard(s, ehloKeywords(s));
  s.pipeliningOffered = keywords.includes('PIPELINING');
  const lines = [s.settings.myhostname, ...keywords];
  s.reply(250, '', lines.join('\n'));
  return true;
}

export const HELO: SmtpdCommand = { name: 'HELO', last: true, junk: false, run: (s, a) => greet(s, a, false) };
export const EHLO: SmtpdCommand = { name: 'EHLO', last: true, junk: false, run: (s, a) => greet(s, a, true) };
