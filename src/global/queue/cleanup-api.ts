// The hand-off from a message source (smtpd, pickup, bounce, sendmail) to
// cleanup(8): a transaction — open, add recipients, stream the content, then
// commit (durable before it resolves) or abort. This is the real interface
// smtpd programs against; cleanup/ implements it.
import type { SmtpReply } from '../smtp/reply.js';

export type DsnNotify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

export interface EnvelopeRecipient {
  /** The recipient address as given (no angle brackets); `''` is never a recipient. */
  readonly address: string;
  /** RFC 3461 ORCPT as `addr-type;xtext`, when the client sent one. */
  readonly orcpt?: string;
  readonly notify?: readonly DsnNotify[];
}

export interface ClientInfo {
  /** Verified client host name, or `unknown`. */
  readonly name: string;
  /** Reverse-DNS name (unverified), or `unknown`. */
  readonly reverseName: string;
  readonly addr: string;
  readonly port: number;
  readonly helo: string;
  /** `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPSA`, ... as it appears in Received:. */
  readonly protocol: string;
  readonly saslUsername?: string;
}

/**
 * Actions smtpd's access policy chose for a message (check_*_access and
 * policy services: access(5) HOLD, DISCARD, FILTER, REDIRECT, BCC). cleanup
 * applies them as it applies the same header_checks actions; a later
 * header/body_checks FILTER or REDIRECT overrides these.
 */
export interface CleanupPolicyActions {
  readonly hold?: boolean;
  readonly discard?: boolean;
  /** `transport:nexthop`, the content filter for this message. */
  readonly filter?: string;
  /** Every recipient is replaced by this address. */
  readonly redirect?: string;
  /** Recipients to add. */
  readonly bcc?: readonly string[];
  /** Envelope edits milters asked for at end of message (smtpd_milters). */
  readonly milter?: CleanupMilterEdits;
}

/**
 * What smtpd_milters changed in the envelope (MILTER_README): applied before
 * address rewriting, as cleanup(8) applies milter edits. Recipients a milter
 * adds are passed with addRecipient() before commit().
 */
export interface CleanupMilterEdits {
  /** SMFIR_CHGFROM: the new envelope sender. */
  readonly sender?: string;
  /** SMFIR_DELRCPT: recipients, as given at RCPT TO, to drop together with all their expansions. */
  readonly deleteRecipients?: readonly string[];
}

/** The policy actions may be known at open (pickup, a client-stage HOLD) or only at commit (see commit()). */
export interface CleanupOpenRequest extends CleanupPolicyActions {
  /** Where the message came from; decides defaults such as which headers cleanup may add. */
  readonly origin: 'smtpd' | 'pickup' | 'sendmail' | 'bounce' | 'local';
  readonly sender: string;
  readonly client?: ClientInfo;
  /** SIZE= from MAIL FROM, if any. */
  readonly declaredSize?: number;
  readonly body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  readonly smtputf8?: boolean;
  readonly ret?: 'FULL' | 'HDRS';
  readonly envid?: string;
  /** Arrival time (ms since epoch); defaults to now. */
  readonly arrivalTime?: number;
  /** The service name whose `-o` overrides apply (e.g. `submission`). */
  readonly service?: string;
  /** Sender's full name (`sendmail -F`), used when cleanup adds a missing From: header. */
  readonly fullName?: string;
  /** `sendmail -t`: also take recipients from To:/Cc:/Bcc: (Resent- forms when present). */
  readonly extractRecipients?: boolean;
  /** `sendmail -bv`: the message is queued only to find out what would happen to it (never delivered). */
  readonly verifyOnly?: boolean;
  /**
   * A queue ID from this service's reserveQueueIds(): the transaction takes
   * it over (and releases it when it ends). Lets a source in another process
   * name the message before cleanup has seen it (smtpd-worker/cleanup-link.ts).
   */
  readonly queueId?: string;
  /**
   * An address verification probe from verify(8) (with `verifyOnly`): the
   * answers go back to the verify service, never to the sender, and qmgr
   * routes it with the address_verify_* overrides.
   */
  readonly verifyProbe?: boolean;
}

export type CleanupVerdict =
  | { readonly status: 'queued'; readonly queueId: string }
  | { readonly status: 'discarded'; readonly queueId: string }
  /** header/body checks or limits refused it: the source must pass `reply` on. */
  | { readonly status: 'rejected'; readonly reply: SmtpReply };

export interface CleanupTransaction {
  /** Assigned at open, so smtpd can log it and put it in Received:. */
  readonly queueId: string;
  addRecipient(rcpt: EnvelopeRecipient): void;
  /**
   * Message content: one or more complete lines, each ending in CRLF, with
   * SMTP dot-stuffing already removed. Headers first, as received.
   * The transaction keeps `lines` as given (no copy; for a 100 KiB message
   * that copy was a tenth of the ingest CPU in garbage collection): the
   * caller hands the bytes over and must never change them afterwards.
   */
  write(lines: Buffer): void;
  /**
   * Resolves only when the queue file is on stable storage (or the message
   * was refused). `actions` are the policy actions decided after open (later
   * RCPTs, DATA, end-of-data), merged with the open request's: flags add up,
   * BCCs join, a FILTER or REDIRECT given here replaces the earlier one.
   */
  commit(actions?: CleanupPolicyActions): Promise<CleanupVerdict>;
  abort(): Promise<void>;
}

export interface CleanupService {
  open(req: CleanupOpenRequest): Promise<CleanupTransaction>;
  /** Queue IDs no live or in-flight message uses, kept from reuse until an open() takes each or they are released. */
  reserveQueueIds?(count: number): string[];
  releaseQueueIds?(ids: readonly string[]): void;
}
