// VRFY (RFC 5321 section 3.5.1): off with disable_vrfy_command; otherwise
// the recipient restrictions decide, and an allowed address gets Postfix's
// non-committal 252 (it never reveals whether a mailbox exists).
import { parsePath } from '../envelope.js';
import type { Session } from '../session.js';
import { checkStages } from '../transaction.js';
import type { SmtpdCommand } from '../types.js';

async function vrfy(s: Session, args: string): Promise<boolean> {
  if (s.settings.disableVrfy) {
    s.reply(502, '5.5.1', 'VRFY command is disabled');
    return false;
  }
  if (s.tx) {
    s.reply(503, '5.5.1', 'Error: MAIL transaction in progress');
    return false;
  }
  if (args === '') {
    s.reply(501, '5.5.4', 'Syntax: VRFY address');
    return false;
  }
  const path = parsePath(`TO:${args}`, 'TO');
  if (!path.ok || path.address === '') {
    s.reply(501, '5.1.3', 'Bad recipient address syntax');
    return false;
  }
  if (!(await checkStages(s, ['vrfy'], { recipient: path.address }))) return false;
  s.reply(252, '2.0.0', args);
  return true;
}

export const VRFY: SmtpdCommand = { name: 'VRFY', last: true, junk: true, run: vrfy };
