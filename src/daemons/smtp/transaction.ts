// One mail transaction on an open session: MAIL FROM, RCPT TO per recipient,
// DATA and the content, with command pipelining when the server offers it
// (RFC 2920) and LMTP's one reply per accepted recipient after the final dot
// (RFC 2033 section 4.2). Results are per recipient; "soft" ones may be tried
// again on the next server before they become `deferred`.
import type { DeliveryRecipient, DeliveryRequest } from '../../global/queue/delivery-api.js';
import { SessionError, type ServerReply } from './connection.js';
import { DataEncoder } from './content.js';
import { convertTo7bit } from './mime-convert.js';
import { replyFailure, sessionErrorText, type Session } from './session.js';
import type { ClientSettings } from './settings.js';
import { headersHaveUtf8 } from './utf8-headers.js';

export interface RcptResult {
  readonly status: 'sent' | 'bounced' | 'soft';
  readonly dsn: string;
  readonly reason: string;
  readonly remoteReply?: string;
}

export interface TransactionResult {
  readonly results: Map<number, RcptResult>;
  /** The connection is idle and in a known state: it may carry another transaction. */
  readonly reusable: boolean;
}

/** RFC 3461 xtext for ENVID and ORCPT. */
function xtext(v: string): string {
  return v.replace(/[^!-~]|[+=]/g, (ch) => `+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** Content is written in pieces of about this size (the last one with the final dot). */
const WRITE_BATCH = 64 * 1024;

const nonAscii = (s: string): boolean => /[\u0080-\uffff]/.test(s);

function mailCommand(req: DeliveryRequest, sess: Session): string {
  const f = sess.features;
  let cmd = `MAIL FROM:<${req.sender}>`;
  if (f.has('SIZE')) cmd += ` SIZE=${req.size}`;
  if (f.has('8BITMIME') && req.body && req.body !== '7BIT')
    cmd += ` BODY=${req.body === 'BINARYMIME' ? '8BITMIME' : req.body}`;
  if (f.has('SMTPUTF8') && req.smtputf8) cmd += ' SMTPUTF8';
  if (f.has('DSN')) {
    if (req.ret) cmd += ` RET=${req.ret}`;
    if (req.envid) cmd += ` ENVID=${xtext(req.envid)}`;
  }
  return cmd;
}

function rcptCommand(r: DeliveryRecipient, sess: Session): string {
  let cmd = `RCPT TO:<${r.address}>`;
  if (sess.features.has('DSN')) {
    if (r.notify?.length) cmd += ` NOTIFY=${r.notify.join(',')}`;
    if (r.orcpt) cmd += ` ORCPT=${r.orcpt.includes(';') ? r.orcpt : `rfc822;${xtext(r.orcpt)}`}`;
  }
  return cmd;
}

export async function runTransaction(
  sess: Session,
  req: DeliveryRequest,
  rcpts: readonly DeliveryRecipient[],
  s: ClientSettings,
): Promise<TransactionResult> {
  const results = new Map<number, RcptResult>();
  const all = (r: RcptResult): TransactionResult => {
    for (const x of rcpts) if (!results.has(x.index)) results.set(x.index, r);
    return { results, reusable: false };
  };
  const { conn, label, features } = sess;

  // Checks that need no command: the server told us in EHLO.
  const sizeLimit = Number.parseInt(features.get('SIZE') ?? '0', 10) || 0;
  if (sizeLimit > 0 && req.size > sizeLimit) {
    for (const r of rcpts) {
      results.set(r.index, {
        status: 'bounced',
        dsn: '5.3.4',
        reason: `message size ${req.size} exceeds size limit ${sizeLimit} of server ${label}`,
      });
    }
    return { results, reusable: true };
  }
  if (
    req.smtputf8 &&
    !features.has('SMTPUTF8') &&
    ([req.sender, ...rcpts.map((r) => r.address)].some(nonAscii) || (await headersHaveUtf8(req)))
  ) {
    for (const r of rcpts) {
      results.set(r.index, {
        status: 'bounced',
        dsn: '5.6.7',
        reason: `SMTPUTF8 is required, but was not offered by host ${label}`,
      });
    }
    return { results, reusable: true };
  }

  const pipelining = features.has('PIPELINING');
  // sendmail -bv: the RCPT replies are the answer; no DATA is sent.
  const verify = req.verifyOnly === true;
  let stage = 'sending MAIL FROM';
  try {
    const mail = mailCommand(req, sess);
    const rcptCmds = rcpts.map((r) => rcptCommand(r, sess));
    if (pipelining) {
      // MAIL, every RCPT and DATA in one write, as Postfix's smtp(8) sends them.
      let batch = `${mail}\r\n`;
      for (const c of rcptCmds) batch += `${c}\r\n`;
      if (!verify) batch += 'DATA\r\n';
      await conn.write(batch, s.mailTimeout);
    } else await conn.write(`${mail}\r\n`, s.mailTimeout);

    const mailReply = await conn.readReply(s.mailTimeout);
    const mailOk = mailReply.code >= 200 && mailReply.code < 300;
    stage = 'sending RCPT TO';
    const accepted: DeliveryRecipient[] = [];
    for (const [i, r] of rcpts.entries()) {
      if (!pipelining && !mailOk) break;
      if (!pipelining) await conn.write(`${rcptCmds[i] ?? ''}\r\n`, s.rcptTimeout);
      const rr = await conn.readReply(s.rcptTimeout);
      if (!mailOk) continue;
      if (rr.code >= 200 && rr.code < 300) {
        accepted.push(r);
        if (verify) results.set(r.index, fromReply(rr, label, 'RCPT TO'));
      } else results.set(r.index, fromReply(rr, label, 'RCPT TO'));
    }
    if (!mailOk) {
      const f = replyFailure(mailReply, label, 'MAIL FROM');
      // The pipelined DATA's reply: a 5xx by now, unless the server is broken enough to say 354.
      if (pipelining && !verify) await endData(sess, s, await conn.readReply(s.dataInitTimeout));
      all({ status: f.soft ? 'soft' : 'bounced', dsn: f.dsn, reason: f.reason, remoteReply: mailReply.text });
      return { results, reusable: await rset(sess, s) };
    }
    if (verify) return { results, reusable: await rset(sess, s) };
    stage = 'sending DATA command';
    if (!pipelining && accepted.length > 0) await conn.write('DATA\r\n', s.dataInitTimeout);
    const dataReply = pipelining || accepted.length > 0 ? await conn.readReply(s.dataInitTimeout) : undefined;
    if (accepted.length === 0) {
      // A broken server may say 354 with no recipients; an empty message ends it.
      if (dataReply) await endData(sess, s, dataReply);
      return { results, reusable: await rset(sess, s) };
    }
    if (dataReply?.code !== 354) {
      const rr = dataReply as ServerReply;
      for (const r of accepted) results.set(r.index, fromReply(rr, label, 'DATA'));
      return { results, reusable: await rset(sess, s) };
    }

    stage = 'sending message body';
    const convert = !features.has('8BITMIME') && s.mimeConversion && req.body === '8BITMIME';
    const source = convert ? converted(req) : req.openContent();
    const wire = new DataEncoder(s.lineLengthLimit);
    for await (const chunk of source) {
      wire.push(chunk);
      if (wire.pending >= WRITE_BATCH) await conn.write(wire.take(), s.dataXferTimeout);
    }
    wire.end();
    await conn.write(wire.take(), s.dataXferTimeout);
    stage = 'sending end of data -- message may be sent more than once';
    if (s.protocol === 'lmtp') {
      // RFC 2033 section 4.2: one reply per accepted recipient, in RCPT order.
      for (const r of accepted)
        results.set(r.index, fromReply(await conn.readReply(s.dataDoneTimeout), label, 'end of DATA'));
    } else {
      const res = fromReply(await conn.readReply(s.dataDoneTimeout), label, 'end of DATA');
      for (const a of accepted) results.set(a.index, res);
    }
    conn.transactions++;
    return { results, reusable: true };
  } catch (e) {
    if (!(e instanceof SessionError)) throw e;
    return all({ status: 'soft', dsn: '4.4.2', reason: sessionErrorText(e, label, stage) });
  }
}

function fromReply(r: ServerReply, label: string, command: string): RcptResult {
  if (r.code >= 200 && r.code < 300) return { status: 'sent', dsn: r.dsn, reason: r.text, remoteReply: r.text };
  const f = replyFailure(r, label, command);
  return { status: f.soft ? 'soft' : 'bounced', dsn: f.dsn, reason: f.reason, remoteReply: r.text };
}

/** After a 354 that should not have come, an empty message ends DATA mode (it has no recipients). */
async function endData(sess: Session, s: ClientSettings, dataReply: ServerReply): Promise<void> {
  if (dataReply.code !== 354) return;
  await sess.conn.write('.\r\n', s.dataXferTimeout);
  await sess.conn.readReply(s.dataDoneTimeout);
}

async function rset(sess: Session, s: ClientSettings): Promise<boolean> {
  try {
    await sess.conn.write('RSET\r\n', s.rsetTimeout);
    const r = await sess.conn.readReply(s.rsetTimeout);
    return r.code === 250;
  } catch {
    return false;
  }
}

async function* converted(req: DeliveryRequest): AsyncGenerator<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req.openContent()) parts.push(c);
  const text = Buffer.concat(parts).toString('latin1').replace(/\r?\n/g, '\r\n');
  yield Buffer.from(convertTo7bit(text), 'latin1');
}
