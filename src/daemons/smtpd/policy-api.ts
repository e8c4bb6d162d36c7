// The boundary between smtpd's protocol engine and its access policy
// (SMTPD_ACCESS_README): the engine describes the session and the stage, the
// policy evaluates the configured restriction lists and returns a verdict.
// The policy side is a pure function of its inputs plus table lookups, so it
// is tested without sockets.
import type { SmtpReply } from '../../global/smtp/reply.js';

export type RestrictionStage = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data' | 'end-of-data' | 'etrn' | 'vrfy';

export interface SessionFacts {
  readonly clientAddr: string;
  /** Verified client name or `unknown`. */
  readonly clientName: string;
  readonly reverseClientName: string;
  readonly clientPort: number;
  readonly serverAddr: string;
  readonly serverPort: number;
  readonly helo?: string;
  readonly esmtp: boolean;
  readonly saslUsername?: string;
  readonly saslMethod?: string;
  /** MAIL FROM AUTH= identity, decoded. */
  readonly saslSender?: string;
  readonly tls: boolean;
  /** The client certificate of a TLS session that asked for one (smtpd_tls_ask_ccert). */
  readonly tlsCert?: {
    readonly subjectCN: string;
    readonly issuerCN: string;
    /** In smtpd_tls_fingerprint_digest, `AB:CD:...` as relay_clientcerts and check_ccert_access expect. */
    readonly fingerprint: string;
    readonly pubkeyFingerprint: string;
    /** Verified against smtpd_tls_CAfile/CApath. */
    readonly verified: boolean;
  };
  /** The TLS session, for the policy protocol's encryption_* attributes. */
  readonly tlsSession?: { readonly protocol: string; readonly cipher: string; readonly bits: number };
  /** Set when the client sent commands before it was allowed to (reject_unauth_pipelining). */
  readonly pipelinedEarly?: boolean;
  readonly sender?: string;
  readonly recipient?: string;
  /** Recipients accepted so far in this transaction. */
  readonly recipientCount: number;
  readonly etrnDomain?: string;
  /** The message size (end-of-data) or the SIZE= estimate. */
  readonly size?: number;
  /** The queue ID once cleanup assigned one; log lines the policy writes itself (HOLD, WARN, ...) use it, else NOQUEUE. */
  readonly queueId?: string;
}

/** What a restriction list decided. `dunno` means the list ended without a decision (implicit permit). */
export type PolicyVerdict =
  | { readonly action: 'permit' }
  | { readonly action: 'dunno' }
  /**
   * `logText` is the mail log line without its queue ID prefix, e.g.
   * `reject: RCPT from h[1.2.3.4]: 554 5.7.1 <x@y>: Relay access denied; from=<a@b> to=<x@y> proto=ESMTP helo=<h>`;
   * smtpd logs `${queueId ?? 'NOQUEUE'}: ${logText}`, or builds the same line from `reply` and
   * the command it is actually serving (the policy can only infer RCPT from `recipient` being set).
   */
  | { readonly action: 'reject'; readonly reply: SmtpReply; readonly logText: string }
  /** Accept, but with side effects cleanup must apply (HOLD, DISCARD, FILTER, REDIRECT, PREPEND, BCC). */
  | { readonly action: 'accept-with'; readonly effects: readonly PolicyEffect[] };

export type PolicyEffect =
  | { readonly kind: 'hold'; readonly reason: string }
  | { readonly kind: 'discard'; readonly reason: string }
  | { readonly kind: 'filter'; readonly transport: string }
  | { readonly kind: 'redirect'; readonly address: string }
  | { readonly kind: 'prepend'; readonly header: string }
  | { readonly kind: 'bcc'; readonly address: string };

export interface SmtpdPolicy {
  /**
   * Evaluate the restrictions for `stage`. With `smtpd_delay_reject = yes` the
   * engine calls this at RCPT for the connect/helo/mail stages too, as Postfix does.
   */
  check(stage: RestrictionStage, facts: SessionFacts): Promise<PolicyVerdict>;
}
