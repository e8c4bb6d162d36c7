// cleanup(8)'s non_smtpd_milters (MILTER_README "Non-SMTP mail"): mail from
// sendmail/pickup never had an SMTP session, so cleanup plays one to the
// milters — connect from localhost [127.0.0.1], HELO localhost, MAIL FROM,
// one RCPT per recipient, DATA — then shows them the message and applies
// their edits before the message is stored. A milter cannot refuse one
// recipient of non-SMTP mail: that refuses the message, as in Postfix.
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type { EnvelopeRecipient } from '../../global/queue/cleanup-api.js';
import type { SmtpReply } from '../../global/smtp/reply.js';
import { sessionMacros, type MacroLookup } from '../../global/milter/macros.js';
import { MilterMessage } from '../../global/milter/message.js';
import { Milters } from '../../global/milter/milters.js';
import type { MilterVerdict } from '../../global/milter/reply.js';
import { readMilterSettings } from '../../global/milter/settings.js';
import { milterHeaderChecks } from '../../global/milter/header-checks.js';
import { receiveOverrides } from '../../global/queue/receive-overrides.js';
import { printable } from './header-rules.js';

export interface MilterPhaseInput {
  readonly cfg: ParamReader;
  /** The source service's settings (receive_override_options = no_milters). */
  readonly source: ParamReader;
  readonly log: Logger;
  readonly queueId: string;
  readonly sender: string;
  readonly recipients: readonly EnvelopeRecipient[];
  readonly content: Buffer;
}

export type MilterPhaseResult =
  | { readonly status: 'reject'; readonly reply: SmtpReply }
  | {
      readonly status: 'accept';
      readonly content: Buffer;
      readonly sender: string;
      readonly recipients: EnvelopeRecipient[];
      readonly hold: boolean;
      readonly discard: boolean;
    };

/** Whether `non_smtpd_milters` apply to mail from this source. */
export function nonSmtpdMiltersApply(cfg: ParamReader, source: ParamReader): boolean {
  return cfg.get('non_smtpd_milters').trim() !== '' && !receiveOverrides(source).has('no_milters');
}

export async function runNonSmtpdMilters(input: MilterPhaseInput): Promise<MilterPhaseResult> {
  const { cfg, log, queueId } = input;
  let settings;
  try {
    settings = readMilterSettings(cfg, 'non_smtpd_milters', (t) => log.warning(t));
  } catch (e) {
    // As with a milter that breaks the protocol: the mail waits until the configuration is fixed.
    log.warning(`${queueId}: ${(e as Error).message}`);
    return {
      status: 'reject',
      reply: { code: 451, dsn: '4.3.5', text: 'Server configuration problem - try again later' },
    };
  }
  const milters = new Milters(settings, log);
  const first = input.recipients[0]?.address;
  const macros = (recipient?: string): MacroLookup =>
    sessionMacros({
      queueId,
      myhostname: cfg.get('myhostname'),
      daemonName: settings.macros.daemonName,
      v: settings.macros.v,
      clientName: 'localhost',
      clientAddr: '127.0.0.1',
      clientPort: 0,
      helo: 'localhost',
      sender: input.sender,
      ...(recipient !== undefined ? { recipient } : first !== undefined ? { recipient: first } : {}),
      mailer: 'local',
    });
  // cleanup(8)'s log line for a milter decision on local mail.
  const logged = (what: string, v: MilterVerdict): void => {
    const action = v.kind === 'hold' ? 'milter-hold' : v.kind === 'discard' ? 'milter-discard' : 'milter-reject';
    const text =
      v.kind === 'reply'
        ? `${v.reply.dsn ? `${v.reply.dsn} ` : ''}${v.reply.text.split('\n').join(' ')}`
        : v.kind === 'hold'
          ? 'milter triggers HOLD action'
          : v.kind === 'discard'
            ? 'milter triggers DISCARD action'
            : '4.7.0 Server closing connection';
    const to = first !== undefined ? ` to=<${printable(first)}>` : '';
    log.info(
      `${queueId}: ${action}: ${what} from localhost[127.0.0.1]: ${text}; from=<${printable(input.sender)}>${to}`,
    );
  };
  let hold = false;
  let discard = false;
  const msg = new MilterMessage(input.content);
  try {
    const steps: [string, () => Promise<MilterVerdict | undefined>][] = [
      ['CONNECT', () => milters.connect({ name: 'localhost', addr: '127.0.0.1', port: 0 }, macros())],
      ['EHLO', () => milters.helo('localhost', macros())],
      // Sendmail 8.13 does not put the address in <> here, and neither does cleanup.
      ['MAIL', () => milters.mail([input.sender], macros())],
      ...input.recipients.map((r): [string, () => Promise<MilterVerdict | undefined>] => [
        'RCPT',
        () => milters.rcpt([r.address], macros(r.address)),
      ]),
      ['DATA', () => milters.data(macros())],
      ['END-OF-MESSAGE', () => milters.message(msg, { eoh: macros(), eom: macros() })],
    ];
    for (const [what, step] of steps) {
      const v = await step();
      if (v === undefined) continue;
      logged(what, v);
      if (v.kind === 'hold') hold = true;
      else if (v.kind === 'discard') {
        discard = true;
        break;
      } else {
        if (what === 'RCPT') {
          log.warning(`${queueId}: milter configuration error: can't reject recipient in non-smtpd(8) submission`);
        }
        const reply = v.kind === 'shutdown' ? { code: 421, dsn: '4.7.0', text: 'Server closing connection' } : v.reply;
        return { status: 'reject', reply };
      }
      if (what === 'CONNECT' || what === 'EHLO') break;
    }
  } finally {
    milters.abort();
    milters.quit();
  }
  const checked = await milterHeaderChecks(
    msg,
    await milters.headerChecks(),
    (action, header, detail) =>
      log.info(
        `${queueId}: ${action}: header ${printable(header)} from local; from=<${printable(input.sender)}>: ${printable(detail)}`,
      ),
    (t) => log.warning(t),
  );
  if (checked.reject) return { status: 'reject', reply: checked.reject };
  if (checked.hold) hold = true;
  if (checked.discard) discard = true;
  for (const a of msg.ignoredArgs)
    log.warning(`${queueId}: ${a.what}: ignoring ESMTP arguments "${printable(a.args)}"`);
  const { deleted, added } = msg.recipientEdits(input.recipients.map((r) => r.address));
  const recipients = input.recipients.filter((r) => !deleted.includes(r.address));
  for (const address of added) recipients.push({ address });
  return {
    status: 'accept',
    content: msg.content(),
    sender: msg.sender ?? input.sender,
    recipients,
    hold,
    discard,
  };
}
