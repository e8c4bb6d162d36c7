// The mail-transaction side of smtpd(8): restriction checks at each stage
// (honouring smtpd_delay_reject, see SMTPD_ACCESS_README), opening the
// cleanup transaction at the first accepted recipient, the Received:
// header, and the end-of-data commit whose success alone earns
// "250 2.0.0 Ok: queued as ID".
import type { ClientInfo, CleanupPolicyActions } from '../../global/queue/cleanup-api.js';
import type { SmtpReply } from '../../global/smtp/reply.js';
import type { PolicyEffect, RestrictionStage } from './policy-api.js';
import { receivedHeader } from './received.js';
import { receivedComments } from './tls/received-tls.js';
import type { Session } from './session.js';
import { miltersActive, milterEndOfMessage } from './milter-hooks.js';

export interface CheckEnvelope {
  readonly sender?: string;
  readonly recipient?: string;
  readonly etrnDomain?: string;
  readonly size?: number;
  /** MAIL FROM's AUTH= identity (xtext decoded), before the transaction exists. */
  readonly saslSender?: string;
}

/**
 * Evaluate `stages` in order. A reject is answered and logged here and
 * returns false; `permit`/`dunno` move on to the next stage, as a permit in
 * one restriction list does not skip the next list.
 */
export async function checkStages(
  s: Session,
  stages: readonly RestrictionStage[],
  env: CheckEnvelope,
): Promise<boolean> {
  // The stages of one command see the same session: one facts object serves them all.
  const facts = s.facts(env);
  for (const stage of stages) {
    let verdict;
    try {
      verdict = await s.deps.policy.check(stage, facts);
    } catch (e) {
      // A table that cannot be read right now (DictRetryError and the like) defers, never crashes.
      s.logger.warning(`${s.namaddr}: ${stage} restrictions: ${(e as Error).message}`);
      const addr = env.recipient ?? env.sender;
      const r: SmtpReply = {
        code: 451,
        dsn: '4.3.0',
        text: addr !== undefined ? `<${addr}>: Temporary lookup failure` : 'Temporary lookup failure',
      };
      s.logReject(r, logEnvelope(s, env));
      s.sendReply(r);
      return false;
    }
    if (verdict.action === 'reject') {
      s.logReject(verdict.reply, logEnvelope(s, env));
      s.sendReply(verdict.reply);
      return false;
    }
    if (verdict.action === 'accept-with') keepEffects(s, stage, verdict.effects);
  }
  return true;
}

/**
 * HOLD, FILTER, REDIRECT, ... apply to the whole message: inside a
 * transaction they join it; a MAIL-stage verdict (smtpd_delay_reject = no)
 * waits for the transaction MAIL is about to open; client and HELO verdicts
 * apply to every transaction of the session.
 */
function keepEffects(s: Session, stage: RestrictionStage, effects: readonly PolicyEffect[]): void {
  if (s.tx) s.tx.effects.push(...effects);
  else if (stage === 'mail') s.pendingEffects.push(...effects);
  else s.sessionEffects.push(...effects);
}

/** What cleanup must do with the message: the last FILTER and REDIRECT win, every BCC counts. */
export function policyActions(effects: readonly PolicyEffect[]): CleanupPolicyActions {
  let filter: string | undefined;
  let redirect: string | undefined;
  const bcc: string[] = [];
  let hold = false;
  let discard = false;
  for (const e of effects) {
    if (e.kind === 'hold') hold = true;
    else if (e.kind === 'discard') discard = true;
    else if (e.kind === 'filter') filter = e.transport;
    else if (e.kind === 'redirect') redirect = e.address;
    else if (e.kind === 'bcc' && !bcc.includes(e.address)) bcc.push(e.address);
  }
  return {
    ...(hold ? { hold } : {}),
    ...(discard ? { discard } : {}),
    ...(filter !== undefined ? { filter } : {}),
    ...(redirect !== undefined ? { redirect } : {}),
    ...(bcc.length > 0 ? { bcc } : {}),
  };
}

function logEnvelope(s: Session, env: CheckEnvelope): { from?: string; to?: string } {
  const from = env.sender ?? s.tx?.sender;
  return {
    ...(from !== undefined ? { from } : {}),
    ...(env.recipient !== undefined ? { to: env.recipient } : {}),
  };
}

/**
 * The client as the queue file records it: after XFORWARD, the forwarded
 * attributes (unknown where not given), otherwise this session's client.
 */
export function clientInfo(s: Session): ClientInfo {
  const xf = s.xforward;
  const sasl = s.saslUsername !== undefined ? { saslUsername: s.saslUsername } : {};
  if (xf.size > 0) {
    return {
      name: xf.get('NAME') ?? 'unknown',
      reverseName: xf.get('NAME') ?? 'unknown',
      addr: xf.get('ADDR') ?? 'unknown',
      port: Number.parseInt(xf.get('PORT') ?? '', 10) || 0,
      helo: xf.get('HELO') ?? '',
      protocol: xf.get('PROTO') ?? 'unknown',
      ...sasl,
    };
  }
  return {
    name: s.client.name,
    reverseName: s.client.reverseName,
    addr: s.client.addr,
    port: s.client.port,
    helo: s.helo ?? '',
    protocol: s.protocol(s.tx?.smtputf8 ?? false),
    ...sasl,
  };
}

/** `, orig_queue_id=ID, orig_client=name[addr]` from XFORWARD IDENT and NAME/ADDR/PORT, as Postfix logs them. */
function forwarded(s: Session): string {
  const xf = s.xforward;
  const ident = xf.get('IDENT');
  let out = ident !== undefined ? `, orig_queue_id=${ident}` : '';
  if (s.xforwardClientGiven) {
    const name = xf.get('NAME') ?? 'unknown';
    const addr = xf.get('ADDR') ?? 'unknown';
    const port = s.settings.clientPortLogging ? `:${xf.get('PORT') ?? 'unknown'}` : '';
    // Without an address Postfix shows the name alone.
    out += `, orig_client=${addr === 'unknown' ? name : `${name}[${addr}]${port}`}`;
  }
  return out;
}

const QUEUE_WRITE_ERROR: SmtpReply = { code: 451, dsn: '4.3.0', text: 'Error: queue file write error' };

/** Open the cleanup transaction at the first accepted recipient; false after answering an error. */
export async function ensureCleanup(s: Session): Promise<boolean> {
  const tx = s.tx;
  if (!tx || tx.cleanup) return true;
  try {
    tx.cleanup = await s.cleanup.open({
      origin: 'smtpd',
      sender: tx.sender,
      client: clientInfo(s),
      ...(tx.declaredSize !== undefined ? { declaredSize: tx.declaredSize } : {}),
      ...(tx.body !== undefined ? { body: tx.body } : {}),
      smtputf8: tx.smtputf8,
      ...(tx.ret !== undefined ? { ret: tx.ret } : {}),
      ...(tx.envid !== undefined ? { envid: tx.envid } : {}),
      service: s.settings.service,
    });
  } catch (e) {
    s.logger.warning(`${s.namaddr}: cleanup open failed: ${(e as Error).message}`);
    s.sendReply(QUEUE_WRITE_ERROR);
    return false;
  }
  // Postfix adds the SASL login to this line; log analysers count authenticated submissions from it.
  const sasl =
    (s.saslUsername !== undefined ? `, sasl_method=${s.saslMethod ?? ''}, sasl_username=${s.saslUsername}` : '') +
    (tx.saslSender !== undefined ? `, sasl_sender=${tx.saslSender}` : '');
  s.logger.info(`${tx.cleanup.queueId}: client=${s.namaddr}${sasl}${forwarded(s)}`);
  return true;
}

/**
 * A content sink for the open cleanup transaction that remembers, instead
 * of throwing through the framing layer, when the queue refused a write.
 */
export function cleanupWriter(s: Session): { write(b: Buffer): void; failed(): boolean } {
  const tx = s.tx;
  if (tx?.cleanup && miltersActive(s, tx)) {
    // The milters must see (and may change) the message before cleanup gets it: hold it until end of data.
    // The pieces are views of received chunks that nothing reuses, joined once at end of data.
    const held: Buffer[] = [];
    tx.milterContent = held;
    return { write: (b) => held.push(b), failed: () => false };
  }
  const cleanup = tx?.cleanup;
  let failed = cleanup === undefined;
  return {
    write(b: Buffer): void {
      if (failed || !cleanup) return;
      try {
        cleanup.write(b);
      } catch (e) {
        failed = true;
        s.logger.warning(`${cleanup.queueId}: queue file write error: ${(e as Error).message}`);
      }
    },
    failed: () => failed,
  };
}

/** Write PREPEND headers from the access policy, then our Received: header, as the first content lines. */
export function writeReceived(s: Session, sink: { write(b: Buffer): void }): void {
  const tx = s.tx;
  if (!tx?.cleanup) return;
  // Postfix puts them above its own Received: header.
  for (const e of tx.effects) if (e.kind === 'prepend') sink.write(Buffer.from(`${e.header}\r\n`, 'utf8'));
  const header = receivedHeader({
    helo: s.helo,
    clientName: s.client.name,
    rfcAddr: s.rfcAddr,
    myhostname: s.settings.myhostname,
    mailName: s.settings.mailName,
    protocol: s.protocol(tx.smtputf8),
    queueId: tx.cleanup.queueId,
    recipients: tx.recipients.map((r) => r.address),
    date: s.deps.now(),
    comments: receivedComments(s),
  });
  sink.write(Buffer.from(header, 'utf8'));
}

export type ContentProblem = 'none' | 'too-big' | 'bare-lf' | 'write-error';

/**
 * After the last content byte: report content problems, run the
 * end-of-data restrictions, then commit. Answers the client in every case
 * and ends the transaction. Returns true when the message was queued.
 */
export async function finishMessage(s: Session, problem: ContentProblem, size: number): Promise<boolean> {
  const tx = s.tx;
  if (!tx?.cleanup) {
    await s.abortTransaction();
    s.reply(451, '4.3.0', 'Error: queue file write error');
    return false;
  }
  if (problem === 'write-error') {
    await s.abortTransaction();
    s.sendReply(QUEUE_WRITE_ERROR);
    return false;
  }
  if (problem === 'too-big') {
    await s.abortTransaction();
    s.reply(552, '5.3.4', 'Error: message file too big');
    return false;
  }
  if (problem === 'bare-lf') {
    const r: SmtpReply = { code: s.settings.bareNewlineRejectCode, dsn: '5.5.2', text: 'Error: bare <LF> received' };
    s.logReject(r, { from: tx.sender });
    await s.abortTransaction();
    s.sendReply(r);
    s.hangup();
    return false;
  }
  if (!(await checkStages(s, ['end-of-data'], { sender: tx.sender, size }))) {
    await s.abortTransaction();
    return false;
  }
  let milter: Awaited<ReturnType<typeof milterEndOfMessage>> = {};
  if (tx.milterContent) {
    try {
      milter = await milterEndOfMessage(s, tx);
    } catch (e) {
      s.logger.warning(`${tx.cleanup.queueId}: queue file write error: ${(e as Error).message}`);
      await s.abortTransaction();
      s.sendReply(QUEUE_WRITE_ERROR);
      return false;
    }
    if (milter.reply) {
      await s.abortTransaction();
      s.sendReply(milter.reply);
      if (milter.reply.code === 421) s.hangup();
      return false;
    }
  }
  const cleanup = tx.cleanup;
  s.tx = undefined;
  s.dataBytes = undefined;
  s.forgetXforward();
  s.milters?.abort();
  let verdict;
  try {
    const actions = policyActions(tx.effects);
    verdict = await cleanup.commit(milter.edits ? { ...actions, milter: milter.edits } : actions);
  } catch (e) {
    s.logger.warning(`${cleanup.queueId}: commit failed: ${(e as Error).message}`);
    s.sendReply(QUEUE_WRITE_ERROR);
    return false;
  }
  if (verdict.status === 'rejected') {
    s.sendReply(verdict.reply);
    return false;
  }
  // A delivered message forgives earlier errors, as Postfix resets its error count.
  s.errorCount = 0;
  s.reply(250, '2.0.0', `Ok: queued as ${verdict.queueId}`);
  return true;
}
