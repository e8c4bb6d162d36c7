// DATA (RFC 5321 section 4.1.1.4): after the data restrictions, 354, then
// dot-terminated content read by the framing layer (which alone decides
// where the message ends, so no second message can be smuggled in) and
// streamed into the open cleanup transaction.
import type { Session } from '../session.js';
import { checkStages, cleanupWriter, finishMessage, writeReceived, type ContentProblem } from '../transaction.js';
import type { SmtpdCommand } from '../types.js';
import { milterData } from '../milter-hooks.js';

/** Reply to DATA/BDAT when there is no transaction with recipients; true when one was sent. */
export function needRecipients(s: Session): boolean {
  if (!s.tx) {
    s.reply(503, '5.5.1', 'Error: need RCPT command');
    return true;
  }
  if (s.tx.recipients.length === 0) {
    s.reply(554, '5.5.1', 'Error: no valid recipients');
    return true;
  }
  return false;
}

async function data(s: Session, args: string): Promise<boolean> {
  if (needRecipients(s)) return false;
  if (args !== '') {
    s.reply(501, '5.5.4', 'Syntax: DATA');
    return false;
  }
  const tx = s.tx;
  if (!tx?.cleanup) return false;
  if (tx.bdat) {
    s.reply(503, '5.5.1', 'Error: DATA after BDAT');
    return false;
  }
  if (!(await checkStages(s, ['data'], { sender: tx.sender }))) return false;
  const refused = await milterData(s);
  if (refused) {
    s.sendReply(refused);
    if (refused.code === 421) s.hangup();
    return false;
  }
  s.reply(354, '', 'End data with <CR><LF>.<CR><LF>');
  await s.flush();
  const sink = cleanupWriter(s);
  writeReceived(s, sink);
  const limit = s.settings.messageSizeLimit;
  let size = 0;
  let tooBig = false;
  s.dataBytes = 0;
  const mode = s.bareNewlineMode();
  const result = await s.reader.readData(mode, true, s.settings.lineLengthLimit, (b) => {
    size += b.length;
    s.dataBytes = size;
    if (tooBig) return;
    // Over the limit the rest is read and dropped so the session stays in step.
    if (limit > 0 && size > limit) tooBig = true;
    else sink.write(b);
  });
  s.where = 'END-OF-MESSAGE';
  let problem: ContentProblem = 'none';
  if (sink.failed()) problem = 'write-error';
  else if (result.bareLf && mode === 'reject') problem = 'bare-lf';
  else if (tooBig) problem = 'too-big';
  return finishMessage(s, problem, size);
}

export const DATA: SmtpdCommand = { name: 'DATA', last: true, junk: false, run: data };
