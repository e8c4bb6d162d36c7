// BDAT (RFC 3030 CHUNKING): exact-length chunks without dot-stuffing, the
// last one marked LAST. A chunk is always read in full, even when it is
// refused, so the next command is found where the client put it; a count
// that cannot be parsed leaves no safe way to resynchronise, so the
// session ends (521), as in Postfix.
import { ContentLineSplitter } from '../../../util/content-lines.js';
import type { Session } from '../session.js';
import { cleanupWriter, finishMessage, writeReceived, type ContentProblem } from '../transaction.js';
import type { SmtpdCommand } from '../types.js';
import { needRecipients } from './data.js';
import { milterData } from '../milter-hooks.js';

async function discardChunk(s: Session, count: number): Promise<void> {
  await s.reader.readExact(count, () => undefined);
}

async function bdat(s: Session, args: string): Promise<boolean> {
  const m = /^(\d{1,15})(?:[ \t]+(LAST))?$/i.exec(args);
  if (!m?.[1]) {
    s.reply(521, '5.5.4', 'Syntax: BDAT count [LAST]');
    s.hangup();
    return false;
  }
  const count = Number(m[1]);
  const last = m[2] !== undefined;
  if (!s.tx || s.tx.recipients.length === 0 || !s.tx.cleanup) {
    await discardChunk(s, count);
    needRecipients(s);
    return false;
  }
  const tx = s.tx;
  if (count === 0 && !last) {
    s.reply(551, '5.7.1', 'Null BDAT request');
    return false;
  }
  if (!tx.bdat) {
    // The first chunk is where DATA would have been: the milters' DATA event.
    const refused = await milterData(s);
    if (refused) {
      await discardChunk(s, count);
      s.sendReply(refused);
      if (refused.code === 421) s.hangup();
      return false;
    }
    const sink = cleanupWriter(s);
    writeReceived(s, sink);
    tx.bdat = {
      splitter: new ContentLineSplitter(s.settings.lineLengthLimit, (b) => sink.write(b)),
      writeFailed: () => sink.failed(),
      tooBig: false,
    };
    s.dataBytes = 0;
  }
  const state = tx.bdat;
  const limit = s.settings.messageSizeLimit;
  if (state.failed) {
    await discardChunk(s, count);
    s.sendReply(state.failed);
    if (last) await s.abortTransaction();
    return false;
  }
  await s.reader.readExact(count, (b) => {
    s.dataBytes = (s.dataBytes ?? 0) + b.length;
    if (state.tooBig) return;
    if (limit > 0 && (s.dataBytes ?? 0) > limit) state.tooBig = true;
    else state.splitter.push(b);
  });
  if (!last) {
    s.reply(250, '2.0.0', `Ok: ${count} bytes`);
    return true;
  }
  if (!state.tooBig) state.splitter.finish();
  s.where = 'END-OF-MESSAGE';
  let problem: ContentProblem = 'none';
  if (state.writeFailed()) problem = 'write-error';
  else if (state.splitter.bareLf && s.bareNewlineMode() === 'reject') problem = 'bare-lf';
  else if (state.tooBig) problem = 'too-big';
  return finishMessage(s, problem, state.splitter.bytes);
}

export const BDAT: SmtpdCommand = { name: 'BDAT', last: false, junk: false, run: bdat };
