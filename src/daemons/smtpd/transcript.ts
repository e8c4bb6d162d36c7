// smtpd(8)'s session transcript for notify_classes (postconf(5)): every
// command and reply of a session is kept (bounded), each error reply is
// sorted into Postfix's error classes, and when a class the administrator
// asked for occurred, the transcript is mailed to the postmaster at the end
// of the session — policy, protocol, resource, software and data to
// error_notice_recipient, rejected mail (class bounce) to
// bounce_notice_recipient — from the double-bounce sender, so a notice that
// cannot be delivered is dropped rather than bounced again.
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type { CleanupService } from '../../global/queue/cleanup-api.js';
import type { SmtpReply } from '../../global/smtp/reply.js';
import { printableText } from './printable.js';

export type SmtpdErrorClass = 'bounce' | 'data' | 'policy' | 'protocol' | 'resource' | 'software';

const SMTPD_CLASSES: ReadonlySet<string> = new Set(['bounce', 'data', 'policy', 'protocol', 'resource', 'software']);
/** One transcript line at most this long: enough for any SMTP command (line_length_limit is for content). */
const MAX_LINE = 512;
/** A notice never holds more lines than this, whatever smtpd_history_flush_threshold says. */
const MAX_LINES = 1000;

/**
 * Which class an error reply belongs to, from its code and enhanced status
 * code: x.3.5 is a configuration (software) problem, other x.3.0/x.3.1 are
 * resources (queue file, storage, a table that cannot answer now), x.5.y are
 * protocol errors (x.5.3, too many recipients, is a policy limit), a refusal
 * of a message after its content was received is a rejected mail (bounce),
 * and every other refusal comes from a restriction (policy). 421 closes the
 * session for limits and timeouts that are not errors of a class.
 */
export function errorClass(r: SmtpReply, where: string): SmtpdErrorClass | undefined {
  if (r.code < 400 || r.code === 421) return undefined;
  const [, subject, detail] = /^[45]\.(\d{1,3})\.(\d{1,3})$/.exec(r.dsn) ?? [];
  if (subject === '3' && detail === '5') return 'software';
  if (subject === '3' && (detail === '0' || detail === '1')) return 'resource';
  if (subject === '5' && detail !== '3') return 'protocol';
  if (subject === undefined && r.code >= 500 && r.code <= 504) return 'protocol';
  if (where === 'END-OF-MESSAGE' && r.code >= 500) return 'bounce';
  return 'policy';
}

export interface TranscriptSettings {
  readonly classes: ReadonlySet<SmtpdErrorClass>;
  readonly threshold: number;
  readonly errorRecipient: string;
  readonly bounceRecipient: string;
  readonly sender: string;
  readonly myhostname: string;
  readonly mailName: string;
}

/** Reads the settings; undefined when notify_classes names no class smtpd reports (no transcript is kept). */
export function transcriptSettings(config: ParamReader): TranscriptSettings | undefined {
  const classes = new Set(
    config
      .list('notify_classes')
      .map((c) => c.toLowerCase())
      .filter((c): c is SmtpdErrorClass => SMTPD_CLASSES.has(c)),
  );
  if (classes.size === 0) return undefined;
  let threshold = 100;
  try {
    threshold = config.int('smtpd_history_flush_threshold');
  } catch {
    // A malformed number keeps Postfix's default.
  }
  return {
    classes,
    threshold: Math.max(10, Math.min(threshold, MAX_LINES)),
    errorRecipient: config.get('error_notice_recipient'),
    bounceRecipient: config.get('bounce_notice_recipient'),
    sender: `${config.get('double_bounce_sender')}@${config.get('myorigin')}`,
    myhostname: config.get('myhostname'),
    mailName: config.get('mail_name'),
  };
}

/** `AUTH PLAIN <secret>` must not reach the postmaster's mailbox. */
function maskCommand(text: string): string {
  return /^AUTH[ \t]/i.test(text) ? text.replace(/^(AUTH[ \t]+\S+)[ \t]+\S.*$/i, '$1 ********') : text;
}

export class SessionTranscript {
  private lines: string[] = [];
  private seen = new Set<SmtpdErrorClass>();

  constructor(
    private readonly settings: TranscriptSettings,
    private readonly cleanup: CleanupService,
    private readonly logger: Logger,
    /** The client as log lines name it, asked for when a notice is written (it may change with XCLIENT). */
    private readonly client: () => string,
  ) {}

  command(text: string): void {
    this.add(` In:  ${maskCommand(text)}`);
  }

  /** `formatted` is the reply as sent (CRLF lines). */
  reply(r: SmtpReply, formatted: string, where: string): void {
    // Nearly every reply is one line: no split for those.
    const end = formatted.indexOf('\r\n');
    if (end === formatted.length - 2) {
      if (end > 0) this.add(` Out: ${formatted.slice(0, end)}`);
    } else {
      for (const l of formatted.split('\r\n')) if (l !== '') this.add(` Out: ${l}`);
    }
    if (r.code < 400) return;
    const cls = errorClass(r, where);
    if (cls) this.seen.add(cls);
  }

  /** End of session: mail what was gathered if a notified class occurred. */
  end(): Promise<void> {
    return this.flush();
  }

  private add(line: string): void {
    // Kept raw (cut to size) and made printable only if it is ever mailed: most sessions never are.
    this.lines.push(line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line);
    if (this.lines.length >= this.settings.threshold) void this.flush();
  }

  /** Hand the current transcript to cleanup (when it must be reported) and start afresh. */
  private async flush(): Promise<void> {
    const lines = this.lines;
    const classes = [...this.seen].filter((c) => this.settings.classes.has(c)).sort();
    this.lines = [];
    this.seen = new Set();
    if (classes.length === 0) return;
    const s = this.settings;
    const to = classes.length === 1 && classes[0] === 'bounce' ? s.bounceRecipient : s.errorRecipient;
    const client = printableText(this.client(), 300);
    try {
      const tx = await this.cleanup.open({ origin: 'bounce', sender: s.sender });
      tx.addRecipient({ address: to });
      tx.write(Buffer.from(noticeText(s, to, client, classes, lines), 'utf8'));
      const v = await tx.commit();
      if (v.status === 'rejected') this.logger.warning(`transcript of ${client} rejected by cleanup: ${v.reply.text}`);
    } catch (e) {
      this.logger.warning(`cannot send the transcript of ${client} to ${to}: ${(e as Error).message}`);
    }
  }
}

function noticeText(
  s: TranscriptSettings,
  to: string,
  client: string,
  classes: readonly string[],
  lines: readonly string[],
): string {
  return [
    'From: MAILER-DAEMON (Mail Delivery System)',
    `To: ${to} (Postmaster)`,
    `Subject: ${s.mailName} SMTP server: errors from ${client}`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `The ${s.mailName} SMTP server at ${s.myhostname} met errors of class`,
    `${classes.join(', ')} (see notify_classes) in a session with ${client}.`,
    'What was said, as far as it was kept:',
    '',
    ...lines.map((l) => printableText(l, MAX_LINE)),
    '',
    'The mail log at this host has the details of the session.',
    '',
  ].join('\r\n');
}

/** What smtpd.ts hands each session: a transcript per session, or none when nothing is reported. */
export interface TranscriptFactory {
  open(client: () => string): SessionTranscript;
}

export function createTranscripts(
  config: ParamReader,
  cleanup: CleanupService,
  logger: Logger,
): TranscriptFactory | undefined {
  const settings = transcriptSettings(config);
  if (!settings) return undefined;
  return { open: (client) => new SessionTranscript(settings, cleanup, logger, client) };
}
