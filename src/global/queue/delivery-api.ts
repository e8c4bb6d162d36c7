// The contract between qmgr and delivery agents (smtp, lmtp, local, virtual,
// pipe, error, discard): qmgr hands over one message and a group of recipients
// that share a transport and next hop; the agent reports one outcome per
// recipient. An outcome is temporary unless the agent proves it permanent.
import type { DsnNotify } from './cleanup-api.js';

export interface DeliveryRecipient {
  /** The address after rewriting and resolution. */
  readonly address: string;
  /** The address as originally received (for DSN and `orig_to=` in logs). */
  readonly original: string;
  readonly orcpt?: string;
  readonly notify?: readonly DsnNotify[];
  /** Index of the recipient in the queue file, so qmgr can record its outcome. */
  readonly index: number;
}

export interface DeliveryRequest {
  readonly queueId: string;
  /** Transport name from master.cf (e.g. `smtp`, `relay`, `local`) and its next hop. */
  readonly transport: string;
  readonly nexthop: string;
  readonly sender: string;
  readonly recipients: readonly DeliveryRecipient[];
  /** Arrival time, ms since epoch. */
  readonly arrivalTime: number;
  readonly envid?: string;
  readonly ret?: 'FULL' | 'HDRS';
  readonly body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  readonly smtputf8?: boolean;
  /** The message size in bytes (content only). */
  readonly size: number;
  /** Streams the message content: CRLF lines, not dot-stuffed. */
  readonly openContent: () => AsyncIterable<Buffer>;
  /** The client that submitted it, for logs and XFORWARD. */
  readonly client?: { readonly name: string; readonly addr: string; readonly helo: string };
  /**
   * `sendmail -bv`: decide what would happen without delivering. `sent` then means
   * "deliverable" (the reason says how: `delivers to mailbox`, the server's RCPT reply),
   * `bounced`/`deferred` mean "undeliverable"; no mailbox, command, file or DATA is touched.
   */
  readonly verifyOnly?: boolean;
}

export type DeliveryStatus = 'sent' | 'deferred' | 'bounced';

export interface RecipientOutcome {
  readonly index: number;
  readonly status: DeliveryStatus;
  /** Enhanced status code (`2.0.0`, `4.4.1`, `5.1.1`, ...). */
  readonly dsn: string;
  /** Postfix's log `relay=` value, e.g. `mx.example.com[192.0.2.1]:25` or `local`. */
  readonly relay: string;
  /** The diagnostic text shown in `status=sent (...)` and in bounces. */
  readonly reason: string;
  /** The remote server's reply, when there was one (for DSN `Diagnostic-Code: smtp; ...`). */
  readonly remoteReply?: string;
  /**
   * For `sent`, what a success notice (NOTIFY=SUCCESS) should say, as Postfix's smtp(8)
   * decides it: `delivered` (final delivery; what an absent field means), `relayed` (handed
   * to a next hop that does not announce DSN: RFC 3464 Action `relayed`), or `passed-on`
   * (the next hop announced DSN and received the NOTIFY request, so it reports success
   * itself and this MTA sends no notice).
   */
  readonly dsnSuccess?: 'delivered' | 'relayed' | 'passed-on';
}

export interface DeliveryAgent {
  /** Transport names this agent serves by default (master.cf command name). */
  readonly command: string;
  /**
   * The agent holds each destination to its concurrency limit itself, so
   * qmgr may hand it this many requests beyond the destination's window
   * (the delivery process's agents: the next delivery starts there without
   * a round trip through qmgr). Absent: qmgr's window is the limit.
   */
  readonly queuedAhead?: number;
  deliver(req: DeliveryRequest): Promise<RecipientOutcome[]>;
}
