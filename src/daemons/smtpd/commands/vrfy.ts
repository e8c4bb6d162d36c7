// VRFY (RFC 5321 section 3.5.1): off with disable_vrfy_command; otherwise
// the recipient restrictions decide, and an allowed address gets Postfix's
// non-committal 252 (it never reveals whether a mailbox exists).
import { parsePath } from '../envelope.js';
import type { Session } from '../session.js';
import { checkStages } from '../transaction.js';
import type { SmtpdCommand } from '../types.js';
import { milterOther } from '../milter-hooks.js';

async function vrfy(s: Session, args: string): Promise<boolean> {
  if (s.settings.disableVrfy) {
    s.reply(502, '5.5.1', 'VRFY command is disabled');
    return false;
  }
  const milter = milterOther(s);
  if (milter) {
    s.sendReply(milter);
    return false;
  }
  // Postfix 3.7 answers VRFY inside a transaction too, and takes one address
  // with an optional SMTPUTF8 keyword (RFC 6531 section 3.7.4.2).
  const words = args === '' ? [] : args.split(/[ \t]+/);
  if (words.length === 0) {
    s.reply(501, '5.5.4', `Syntax: VRFY address${s.settings.smtputf8Enable ? ' [SMTPUTF8]' : ''}`);
    return false;
  }
  const utf8Keyword = words.length === 2 && s.settings.smtputf8Enable && words[1]?.toUpperCase() === 'SMTPUTF8';
  const target = words[0] ?? '';
  const path = parsePath(`TO:${target}`, 'TO');
  if ((words.length > 1 && !utf8Keyword) || !path.ok || path.address === '') {
    s.reply(501, '5.1.3', 'Bad recipient address syntax');
    return false;
  }
  if (!(await checkStages(s, ['vrfy'], { recipient: path.address }))) return false;
  s.reply(252, '2.0.0', target);
  return true;
}

export const VRFY: SmtpdCommand = { name: 'VRFY', last: true, junk: true, run: vrfy };
