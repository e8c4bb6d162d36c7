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
  /** MAIL FROM AUTH= (RFC 4954 section 5), xtext decoded: the policy protocol's sasl_sender. */
  readonly saslSender?: string;
  readonly recipients: AcceptedRecipient[];
  readonly effects: PolicyEffect[];
  cleanup?: CleanupTransaction;
  bdat?: BdatState;
  /** smtpd_milters: the content is held here until the milters have seen it at end of data. */
  milterContent?: Buffer[];
  /** A milter discarded the message: no more milter events for it. */
  milterSkip?: boolean;
}

/** What smtpd knows of an established TLS session (logs, Received:, restrictions). */
export interface TlsSessionInfo {
  /** `TLSv1.3` */
  readonly protocol: string;
  /** OpenSSL/IANA cipher name, e.g. `TLS_AES_256_GCM_SHA384`. */
  readonly cipher: string;
  readonly bits: number;
  /** A client certificate was asked for (smtpd_tls_ask_ccert / req_ccert). */
  readonly certRequested: boolean;
  readonly peer?: TlsPeerCert;
}

export interface TlsPeerCert {
  readonly subjectCN: string;
  readonly issuerCN: string;
  /** Fingerprint of the certificate in smtpd_tls_fingerprint_digest, `AB:CD:...`. */
  readonly fingerprint: string;
  /** Fingerprint of its public key (SubjectPublicKeyInfo). */
  readonly pubkeyFingerprint: string;
  /** The chain verified against smtpd_tls_CAfile/CApath. */
  readonly verified: boolean;
}

/** STARTTLS (the TLS area implements this). */
export interface StartTlsHook {
  /** Whether to offer STARTTLS to this session now. */
  available(): boolean;
  /** smtpd_tls_security_level = encrypt: most commands answer 530 until TLS is active. */
  required?(): boolean;
  /** smtpd_tls_wrappermode (SMTPS): the handshake happens at connect, before the greeting. */
  wrapper?(): boolean;
  /**
   * Perform the server-side handshake over `plain`; resolves with the encrypted stream.
   * `namaddr` is the client as log lines spell it. The stream must be created
   * before the first await, so no plaintext can slip in between.
   */
  upgrade(
    plain: Duplex,
    namaddr?: string,
  ): Promise<{
    stream: Duplex;
    protocol?: string;
    cipher?: string;
    info?: TlsSessionInfo;
    /** smtpd_tls_req_ccert: why the client certificate is not good enough (the session must end). */
    refused?: string;
  }>;
}

/** The client as the SASL layer needs it: for logs, rate limits and the Dovecot request. */
export interface AuthClient {
  readonly namaddr: string;
  readonly addr: string;
  readonly port: number;
  readonly localAddr: string;
  readonly localPort: number;
  readonly tls: boolean;
}

/** SASL AUTH (the SASL area implements this). */
export interface AuthHook {
  /** Mechanisms to advertise, e.g. `PLAIN LOGIN`; empty means AUTH is not offered. */
  mechanisms(tls: boolean): readonly string[];
  /** smtpd_tls_auth_only: AUTH is refused with 504 5.5.4 until TLS is active. */
  tlsRequired?(tls: boolean): boolean;
  /**
   * Run one AUTH exchange. `challenge` sends a 334 line and returns the
   * client's response (`*` aborts). Resolves with the user name or a reply to send.
   */
  authenticate(
    mechanism: string,
    initial: string | undefined,
    challenge: (text: string) => Promise<string>,
    client?: AuthClient,
  ): Promise<{ readonly username: string } | { readonly reply: SmtpReply }>;
}

/**
 * ETRN (RFC 1985) hand-off to the flush service: `deny` when the domain is
 * not eligible (fast_flush_domains), `bad` for a request the service refuses,
 * `unavailable` when no flush service can be reached.
 */
export interface EtrnHook {
  flush(domain: string): Promise<'ok' | 'deny' | 'bad' | 'unavailable'>;
}
