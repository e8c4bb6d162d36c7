// smtpd(8)'s side of smtpd_milters (MILTER_README): the SMTP events go to
// the milters as the session sees them (connect, HELO/EHLO, MAIL, RCPT,
// DATA, unknown commands), their answers become replies and log lines in
// Postfix's shape (`NOQUEUE: milter-reject: RCPT from ...`), and at end of
// data the message is shown to them and their edits are applied before the
// content reaches cleanup (envelope edits travel in the commit actions).
// The session keeps one Milters object for its whole life; the milter
// conversation never leaves this process.
import type { CleanupMilterEdits } from '../../global/queue/cleanup-api.js';
import type { SmtpReply } from '../../global/smtp/reply.js';
import { sessionMacros, type MacroLookup } from '../../global/milter/macros.js';
import { MilterMessage } from '../../global/milter/message.js';
import { milterHeaderChecks } from '../../global/milter/header-checks.js';
import type { MilterVerdict } from '../../global/milter/reply.js';
import { Milters } from '../../global/milter/milters.js';
import type { MilterSettings } from '../../global/milter/settings.js';
import { printableText } from './printable.js';
import type { Session } from './session.js';
import type { MailTransaction } from './types.js';

/** The macros Postfix's smtpd evaluates for milters, from the session as it is now. */
export function milterMacros(s: Session, current: { sender?: string; recipient?: string } = {}): MacroLookup {
  const m = s.deps.milters;
  const tx = s.tx;
  const tls = s.tlsInfo;
  const sender = current.sender ?? tx?.sender;
  const recipient = current.recipient ?? tx?.recipients[0]?.address;
  return sessionMacros({
    ...(tx?.cleanup ? { queueId: tx.cleanup.queueId } : {}),
    myhostname: s.settings.myhostname,
    daemonName: m?.macros.daemonName ?? s.settings.myhostname,
    v: m?.macros.v ?? '',
    clientName: s.client.name,
    clientAddr: s.client.addr,
    clientPort: s.client.port,
    clientPtr: s.client.reverseName,
    daemonAddr: s.server.addr,
    daemonPort: s.server.port,
    ...(s.helo !== undefined ? { helo: s.helo } : {}),
    ...(s.saslMethod !== undefined ? { authType: s.saslMethod } : {}),
    ...(s.saslUsername !== undefined ? { authAuthen: s.saslUsername } : {}),
    ...(tx?.saslSender !== undefined ? { authAuthor: tx.saslSender } : {}),
    ...(tls
      ? {
          tlsVersion: tls.protocol,
          cipher: tls.cipher,
          cipherBits: tls.bits,
          ...(tls.peer ? { certSubject: tls.peer.subjectCN, certIssuer: tls.peer.issuerCN } : {}),
        }
      : {}),
    ...(sender !== undefined ? { sender } : {}),
    ...(recipient !== undefined ? { recipient } : {}),
    mailer: 'smtp',
  });
}

/**
 * Postfix's check_milter_reply(): log the decision and turn it into the
 * reply to send (undefined for hold and discard, which only mark the
 * message). `env` names the sender/recipient the event was about.
 */
export function milterReply(
  s: Session,
  v: MilterVerdict,
  env: { from?: string; to?: string },
  tx: MailTransaction | undefined = s.tx,
): SmtpReply | undefined {
  let action = 'milter-reject';
  let reply: SmtpReply | undefined;
  let text: string;
  if (v.kind === 'hold') {
    action = 'milter-hold';
    text = 'milter triggers HOLD action';
    tx?.effects.push({ kind: 'hold', reason: text });
  } else if (v.kind === 'discard') {
    action = 'milter-discard';
    text = 'milter triggers DISCARD action';
    if (tx) {
      tx.effects.push({ kind: 'discard', reason: text });
      // Postfix stops talking to the milters about a message it will throw away.
      tx.milterSkip = true;
    }
  } else {
    reply = v.kind === 'shutdown' ? { code: 421, dsn: '4.7.0', text: 'Server closing connection' } : v.reply;
    // cleanup(8) logs end-of-message decisions without the reply code.
    const code = s.where === 'END-OF-MESSAGE' ? '' : `${reply.code} `;
    text = `${code}${reply.dsn ? `${reply.dsn} ` : ''}${reply.text.split('\n').join(' ')}`;
  }
  const parts: string[] = [];
  if (env.from !== undefined) parts.push(`from=<${printableText(env.from)}>`);
  if (env.to !== undefined) parts.push(`to=<${printableText(env.to)}>`);
  parts.push(`proto=${s.protocol(tx?.smtputf8 ?? false)}`);
  if (s.helo !== undefined) parts.push(`helo=<${s.helo}>`);
  s.logger.info(`${s.queueId}: ${action}: ${s.where} from ${s.namaddr}: ${printableText(text)}; ${parts.join(' ')}`);
  return reply;
}

/** Whether milters take part in this transaction (none configured, or a milter discarded it). */
export function miltersActive(s: Session, tx: MailTransaction | undefined = s.tx): boolean {
  return s.milters !== undefined && tx?.milterSkip !== true;
}

/**
 * The greeting decision (Postfix 3.7): a 5xx from a milter at connect gives
 * `554 host ESMTP not accepting connections`, a 421 gives `421 host Service
 * unavailable - try again later`; anything else is remembered by the milter
 * and answers MAIL FROM later.
 */
export async function milterConnect(s: Session): Promise<SmtpReply | undefined> {
  const pick = s.deps.milters?.forClient;
  if (pick) {
    const settings: MilterSettings = s.deps.milters;
    let chosen: Awaited<ReturnType<typeof pick>>;
    try {
      chosen = await pick(s.client.addr);
    } catch (e) {
      s.logger.warning(`smtpd_milter_maps: lookup of ${s.client.addr} failed: ${(e as Error).message}`);
      return { code: 421, dsn: '4.3.0', text: `${s.settings.myhostname} Server configuration problem` };
    }
    s.milters?.quit();
    const list = chosen === 'disable' ? [] : (chosen ?? settings.milters);
    s.milters = list.length > 0 ? new Milters({ ...settings, milters: list }, s.logger) : undefined;
  }
  const milters = s.milters;
  if (!milters) return undefined;
  const v = await milters.connect({ name: s.client.name, addr: s.client.addr, port: s.client.port }, milterMacros(s));
  if (v === undefined) return undefined;
  const r = milterReply(s, v, {});
  if (r === undefined) return undefined;
  if (r.code === 421)
    return { code: 421, dsn: '', text: `${s.settings.myhostname} Service unavailable - try again later` };
  if (r.code >= 500) {
    s.errorCount++;
    return { code: 554, dsn: '', text: `${s.settings.myhostname} ESMTP not accepting connections` };
  }
  return undefined;
}

/** HELO/EHLO: only a 421 is answered now; `reject5xx` trims the EHLO list as Postfix does. */
export async function milterHelo(s: Session, name: string): Promise<{ reply421?: SmtpReply; reject5xx: boolean }> {
  const milters = s.milters;
  if (!milters) return { reject5xx: false };
  const v = await milters.helo(name, milterMacros(s));
  if (v === undefined) return { reject5xx: false };
  const r = milterReply(s, v, {});
  if (r?.code === 421) return { reply421: r, reject5xx: false };
  return { reject5xx: r !== undefined && r.code >= 500 };
}

/** MAIL FROM: `params` as the client wrote them. */
export async function milterMail(
  s: Session,
  sender: string,
  params: readonly string[],
  tx: MailTransaction,
): Promise<SmtpReply | undefined> {
  const milters = s.milters;
  if (!milters) return undefined;
  const v = await milters.mail([`<${sender}>`, ...params], milterMacros(s, { sender }));
  return v === undefined ? undefined : milterReply(s, v, { from: sender }, tx);
}

export async function milterRcpt(
  s: Session,
  recipient: string,
  params: readonly string[],
): Promise<SmtpReply | undefined> {
  const milters = s.milters;
  const tx = s.tx;
  if (!milters || !miltersActive(s)) return undefined;
  const v = await milters.rcpt([`<${recipient}>`, ...params], milterMacros(s, { recipient }));
  return v === undefined ? undefined : milterReply(s, v, { from: tx?.sender ?? '', to: recipient });
}

export async function milterData(s: Session): Promise<SmtpReply | undefined> {
  const milters = s.milters;
  if (!milters || !miltersActive(s)) return undefined;
  const v = await milters.data(milterMacros(s));
  return v === undefined ? undefined : milterReply(s, v, { from: s.tx?.sender ?? '' });
}

/**
 * VRFY and ETRN are not milter events, but a connection-level milter
 * rejection (at CONNECT or HELO) answers them too, as in Postfix.
 */
export function milterOther(s: Session): SmtpReply | undefined {
  const v = s.milters?.other();
  return v?.kind === 'reply' ? v.reply : undefined;
}

/** A recipient the restrictions refused, for milters that asked to see those (SMFIP_RCPT_REJ). */
export async function milterRejectedRcpt(s: Session, recipient: string, params: readonly string[]): Promise<void> {
  const milters = s.milters;
  if (!milters || !miltersActive(s)) return;
  await milters.rcpt([`<${recipient}>`, ...params], milterMacros(s, { recipient }), true);
}

/** An unrecognised command: a milter may answer it instead of `502`. */
export async function milterUnknown(s: Session, verb: string): Promise<SmtpReply | undefined> {
  const milters = s.milters;
  if (!milters) return undefined;
  const v = await milters.unknown(verb, milterMacros(s));
  return v === undefined ? undefined : milterReply(s, v, {});
}

export interface EndOfMessage {
  /** Refuse the message with this reply (the transaction is then aborted). */
  readonly reply?: SmtpReply;
  readonly edits?: CleanupMilterEdits;
}

/**
 * End of data: show the buffered message to the milters, apply their edits,
 * then write the result into the cleanup transaction and add the recipients
 * they added. Recipients they deleted and a changed sender come back as
 * commit-time edits.
 */
export async function milterEndOfMessage(s: Session, tx: MailTransaction): Promise<EndOfMessage> {
  const cleanup = tx.cleanup;
  const content = Buffer.concat(tx.milterContent ?? []);
  tx.milterContent = undefined;
  if (!cleanup) return {};
  const milters = s.milters;
  const prepends = tx.effects.filter((e) => e.kind === 'prepend').length;
  const msg = new MilterMessage(content, prepends);
  let edits: CleanupMilterEdits | undefined;
  if (milters && miltersActive(s, tx)) {
    const lookup = milterMacros(s);
    const v = await milters.message(msg, { eoh: lookup, eom: lookup });
    if (v !== undefined) {
      const r = milterReply(s, v, { from: tx.sender, ...(tx.recipients[0] ? { to: tx.recipients[0].address } : {}) });
      if (r) return { reply: r };
    }
    const checked = await milterHeaderChecks(
      msg,
      await milters.headerChecks(),
      (action, header, detail) =>
        s.logger.info(
          `${cleanup.queueId}: ${action}: header ${printableText(header)} from ${s.namaddr}; from=<${printableText(tx.sender)}> proto=${s.protocol(tx.smtputf8)}${s.helo !== undefined ? ` helo=<${s.helo}>` : ''}: ${printableText(detail)}`,
        ),
      (t) => s.logger.warning(t),
    );
    if (checked.reject) return { reply: checked.reject };
    if (checked.hold) tx.effects.push({ kind: 'hold', reason: 'milter_header_checks' });
    if (checked.discard) tx.effects.push({ kind: 'discard', reason: 'milter_header_checks' });
    if (checked.filter !== undefined) tx.effects.push({ kind: 'filter', transport: checked.filter });
    if (checked.redirect !== undefined) tx.effects.push({ kind: 'redirect', address: checked.redirect });
    for (const address of checked.bcc) tx.effects.push({ kind: 'bcc', address });
    for (const a of msg.ignoredArgs) {
      s.logger.warning(`${cleanup.queueId}: ${a.what}: ignoring ESMTP arguments "${printableText(a.args, 100)}"`);
    }
    const { deleted, added } = msg.recipientEdits(tx.recipients.map((r) => r.address));
    for (const address of added) cleanup.addRecipient({ address });
    edits = {
      ...(msg.sender !== undefined ? { sender: msg.sender } : {}),
      ...(deleted.length > 0 ? { deleteRecipients: deleted } : {}),
    };
  }
  cleanup.write(msg.content());
  return edits ? { edits } : {};
}
