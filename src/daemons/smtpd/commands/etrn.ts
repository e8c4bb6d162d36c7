// ETRN (RFC 1985): ask the flush service to deliver mail queued for a
// domain. Postfix's ETRN replies carry no enhanced status codes for the
// RFC 1985 results; the flush itself is behind the EtrnHook.
import type { Session } from '../session.js';
import { checkStages, repeatConnectReject } from '../transaction.js';
import type { SmtpdCommand } from '../types.js';

const VALID_DOMAIN =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

async function etrn(s: Session, args: string): Promise<boolean> {
  if (s.helo === undefined) {
    s.reply(503, '5.5.1', 'Error: send HELO/EHLO first');
    return false;
  }
  if (s.tx) {
    s.reply(503, '5.5.1', 'Error: MAIL transaction in progress');
    return false;
  }
  if (args === '' || /[ \t]/.test(args)) {
    s.reply(500, '', 'Syntax: ETRN domain');
    return false;
  }
  const domain = args.startsWith('@') || args.startsWith('#') ? args.slice(1) : args;
  if (!VALID_DOMAIN.test(domain)) {
    s.reply(501, '', 'Error: invalid parameter syntax');
    return false;
  }
  if (repeatConnectReject(s, { etrnDomain: domain })) return false;
  if (!(await checkStages(s, ['etrn'], { etrnDomain: domain }))) return false;
  const result = s.deps.etrn ? await s.deps.etrn.flush(domain) : 'deny';
  if (result === 'ok') {
    s.reply(250, '', 'Queuing started');
    return true;
  }
  if (result === 'fail') s.reply(458, '', 'Unable to queue messages');
  else s.reply(459, '', `<${domain}>: service unavailable`);
  return false;
}

export const ETRN: SmtpdCommand = { name: 'ETRN', last: false, junk: true, run: etrn };
