// Types shared by smtpd's session engine and its per-verb command files:
// the command table entry, the mail transaction and the optional hooks that
// other areas plug in (STARTTLS, SASL AUTH, ETRN/flush).
import type { Duplex } from 'node:stream';
import type { CleanupTransaction, DsnNotify } from '../../global/queue/cleanup-api.js';
import type { SmtpReply } from '../../global/smtp/reply.js';
import type { PolicyEffect } from './policy-api.js';
import type { ContentLineSplitter } from '../../util/content-lines.js';
import type { Session } from './session.js';

export interface SmtpdCommand {
  /** Upper-case verb as the client sends it. */
  readonly name: string;
  /** RFC 2920: the client must wait for this command's reply before sending more. */
  readonly last: boolean;
  /** Counts toward smtpd_junk_command_limit (NOOP, VRFY, ETRN, RSET). */
  readonly junk: boolean;
  /** Runs the command; true when it succeeded (for the disconnect statistics). */
  run(s: Session, args: string): Promise<boolean>;
}

export interface AcceptedRecipient {
  readonly address: string;
  readonly orcpt?: string;
  readonly notify?: readonly DsnNotify[];
}

export interface BdatState {
  readonly splitter: ContentLineSplitter;
  /** Whether the queue refused a write of this message. */
  readonly writeFailed: () => boolean;
  /** Set after a chunk failed: later chunks are read and discarded until LAST. */
  failed?: SmtpReply;
  tooBig: boolean;
}

/** One MAIL FROM .. end-of-data transaction. */
export interface MailTransaction {
  readonly sender: string;
  readonly declaredSize?: number;
  readonly body?: '7BIT' | '8BITMIME';
  readonly smtputf8: boolean;
  readonly ret?: 'FULL' | 'HDRS';
  readonly envid?: string;
  readonly recipients: AcceptedRecipient[];
  readonly effects: PolicyEffect[];
  cleanup?: CleanupTransaction;
  bdat?: BdatState;
}

/** STARTTLS (the TLS area implements this). */
export interface StartTlsHook {
  /** Whether to offer STARTTLS to this session now. */
  available(): boolean;
  /** Perform the server-side handshake over `plain`; resolves with the encrypted stream. */
  upgrade(plain: Duplex): Promise<{ stream: Duplex; protocol?: string; cipher?: string }>;
}

/** SASL AUTH (the SASL area implements this). */
export interface AuthHook {
  /** Mechanisms to advertise, e.g. `PLAIN LOGIN`; empty means AUTH is not offered. */
  mechanisms(tls: boolean): readonly string[];
  /**
   * Run one AUTH exchange. `challenge` sends a 334 line and returns the
   * client's response (`*` aborts). Resolves with the user name or a reply to send.
   */
  authenticate(
    mechanism: string,
    initial: string | undefined,
    challenge: (text: string) => Promise<string>,
  ): Promise<{ readonly username: string } | { readonly reply: SmtpReply }>;
}

/** ETRN (RFC 1985) hand-off to the flush service. */
export interface EtrnHook {
  flush(domain: string): Promise<'ok' | 'deny' | 'fail'>;
}
