// The seams where lookup-table features plug into cleanup(8): address
// rewriting (canonical_maps, masquerade_domains, virtual_alias_maps, done by
// trivial-rewrite and the dict layer) and content inspection (header_checks,
// body_checks). cleanup owns what happens with the answers — which addresses
// are stored, and what REJECT/DISCARD/HOLD/IGNORE/REPLACE do to a message —
// while the implementations come from those areas.
import type { SmtpReply } from '../../global/smtp/reply.js';
import type { ClientInfo, CleanupOpenRequest } from '../../global/queue/cleanup-api.js';
import type { LogicalHeader } from './header-parse.js';

export interface RewriteContext {
  readonly queueId: string;
  readonly origin: CleanupOpenRequest['origin'];
  /** receive_override_options=no_address_mappings: only the basic rewrite, no canonical/masquerade/virtual. */
  readonly noAddressMappings?: boolean;
}

export interface CleanupAddressRewriter {
  /** The envelope sender as it should be stored (canonical, masquerading). */
  sender(address: string, ctx: RewriteContext): Promise<string>;
  /** The addresses one envelope recipient becomes (canonical, virtual alias expansion); empty drops it. */
  recipient(address: string, ctx: RewriteContext): Promise<string[]>;
  /** One address in a sender or recipient header, rewritten in the local or remote context. */
  header?(
    address: string,
    kind: 'sender' | 'recipient',
    context: 'local' | 'remote',
    noAddressMappings?: boolean,
  ): Promise<string>;
  /** sender_bcc_maps for the stored envelope sender. */
  senderBcc?(sender: string): Promise<string | undefined>;
  /** recipient_bcc_maps for one envelope recipient as received. */
  recipientBcc?(recipient: string): Promise<string | undefined>;
}

/** header_checks(5)/body_checks actions cleanup understands. */
export type ContentVerdict =
  | { readonly action: 'dunno' }
  | { readonly action: 'reject'; readonly reply: SmtpReply }
  | { readonly action: 'discard'; readonly text: string }
  | { readonly action: 'hold'; readonly text: string }
  | { readonly action: 'ignore' }
  /** The whole replacement header (`Name: value`) or body line, without CRLF. */
  | { readonly action: 'replace'; readonly text: string };

export interface CleanupContentChecks {
  /** One logical header, unfolded lines joined with their CRLFs removed as Postfix presents them. */
  header(text: string, ctx: RewriteContext): Promise<ContentVerdict>;
  /** One body line without CRLF; only the first body_checks_size_limit bytes of the body are checked. */
  body(line: string, ctx: RewriteContext): Promise<ContentVerdict>;
  /**
   * The whole-message, MIME-aware pass (checks/content-checks.ts). When
   * present cleanup calls it instead of header()/body(): it walks the
   * primary headers and the body's MIME structure itself, logs each action
   * the way cleanup(8) does, and returns the edited content together with
   * the effects that change the envelope (REDIRECT, BCC, FILTER, HOLD).
   */
  inspect?(input: ContentInspectionInput): Promise<ContentInspection>;
  /**
   * True when inspect() (with or without `skipTables`) would accept every
   * message unchanged — no tables and no MIME checks configured — so cleanup
   * may skip the pass.
   */
  inert?(skipTables: boolean): boolean;
}

/** What the action log lines and the MIME pass need to know about the message. */
export interface InspectionContext extends RewriteContext {
  /** The envelope sender as stored. */
  readonly sender: string;
  /** The first envelope recipient (`to=<...>` in the log), if any. */
  readonly recipient?: string;
  /** The SMTP client (`from name[addr]`, proto=, helo=); absent for local submissions. */
  readonly client?: ClientInfo;
}

export interface ContentInspectionInput {
  /** The primary header section as received. */
  readonly headers: readonly LogicalHeader[];
  /** Whether an empty line separated headers and body (body_checks sees it as the first body line). */
  readonly separator: boolean;
  readonly body: Buffer;
  readonly ctx: InspectionContext;
  /** receive_override_options=no_header_body_checks: no table lookups, only the MIME checks. */
  readonly skipTables?: boolean;
}

export type ContentInspection =
  | { readonly status: 'reject'; readonly reply: SmtpReply }
  | { readonly status: 'discard' }
  | {
      readonly status: 'accept';
      /** The primary headers after IGNORE/REPLACE/PREPEND. */
      readonly headers: LogicalHeader[];
      /** The body after edits, as pieces to store in order. */
      readonly body: Buffer[];
      readonly hold: boolean;
      /** REDIRECT: every recipient is replaced by this address (the last REDIRECT wins). */
      readonly redirect?: string;
      /** BCC: recipients to add. */
      readonly bcc: readonly string[];
      /** FILTER: the content_filter (`transport:nexthop`) for this message (the last FILTER wins). */
      readonly filter?: string;
    };

/**
 * The rewriting cleanup can do without lookup tables: envelope addresses
 * without a domain get `@$myorigin` (append_at_myorigin), as trivial-rewrite
 * does in its local context. Canonical, masquerade and virtual alias tables
 * arrive with the trivial-rewrite implementation of this interface.
 */
export class QualifyingRewriter implements CleanupAddressRewriter {
  constructor(
    private readonly myorigin: string,
    private readonly appendAtMyorigin: boolean,
  ) {}

  private qualify(address: string): string {
    if (address === '' || address.includes('@') || !this.appendAtMyorigin || this.myorigin === '') return address;
    return `${address}@${this.myorigin}`;
  }

  sender(address: string): Promise<string> {
    return Promise.resolve(this.qualify(address));
  }

  recipient(address: string): Promise<string[]> {
    return Promise.resolve([this.qualify(address)]);
  }
}
