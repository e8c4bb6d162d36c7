// ETRN (RFC 1985): ask the flush service to deliver mail queued for a
// domain. Postfix's ETRN replies carry no enhanced status codes; a domain
// outside fast_flush_domains gets 459, a flush service that cannot be
// reached 458. The flush itself is behind the EtrnHook.
import { isIPv4, isIPv6 } from 'node:net';
import { printableText } from '../printable.js';
import type { Session } from '../session.js';
import { checkStages } from '../transaction.js';
import type { SmtpdCommand } from '../types.js';
import { milterOther } from '../milter-hooks.js';

// Postfix's host name rule, as its real smtpd applies it to ETRN (checked against
// Debian's 3.7.11): underscores are allowed, a trailing dot and an all-numeric
// name are not.
const VALID_DOMAIN =
  /^(?=.{1,255}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;
const NUMERIC = /^[0-9.]+$/;

/** `[192.0.2.1]` or `[IPv6:2001:db8::1]` with a real address inside. */
function validLiteral(site: string): boolean {
  const m = /^\[(ipv6:)?([^\]]*)\]$/i.exec(site);
  if (!m) return false;
  return m[1] !== undefined ? isIPv6(m[2] ?? '') : isIPv4(m[2] ?? '');
}

async function etrn(s: Session, args: string): Promise<boolean> {
  if (s.settings.heloRequired && s.helo === undefined) {
    s.reply(503, '', 'Error: send HELO/EHLO first');
    return false;
  }
  const milter = milterOther(s);
  if (milter) {
    s.sendReply(milter);
    return false;
  }
  if (s.tx) {
    s.reply(503, '', 'Error: MAIL transaction in progress');
    return false;
  }
  if (args === '' || /[ \t]/.test(args)) {
    s.reply(500, '', 'Syntax: ETRN domain');
    return false;
  }
  const domain = args.startsWith('@') || args.startsWith('#') ? args.slice(1) : args;
  // RFC 1985 names a domain; Postfix also takes an address literal in [].
  if (!(VALID_DOMAIN.test(domain) && !NUMERIC.test(domain)) && !validLiteral(domain)) {
    s.reply(501, '', 'Error: invalid parameter syntax');
    return false;
  }
  if (!(await checkStages(s, ['etrn'], { etrnDomain: domain }))) return false;
  const result = s.deps.etrn ? await s.deps.etrn.flush(domain) : 'unavailable';
  const shown = `${printableText(domain, 100)}...`;
  switch (result) {
    case 'ok':
      s.reply(250, '', 'Queuing started');
      return true;
    case 'deny':
      s.logger.warning(`reject: ETRN ${shown} from ${s.namaddr}`);
      s.reply(459, '', `<${domain}>: service unavailable`);
      return false;
    case 'bad':
      s.logger.warning(`bad ETRN ${shown} from ${s.namaddr}`);
      s.reply(458, '', 'Unable to queue messages');
      return false;
    case 'unavailable':
      s.logger.warning('unable to talk to fast flush service');
      s.reply(458, '', 'Unable to queue messages');
      return false;
  }
}

export const ETRN: SmtpdCommand = { name: 'ETRN', last: false, junk: true, run: etrn };
