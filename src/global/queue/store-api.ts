// What the queue store offers qmgr, bounce and the queue tools: the messages
// that exist, their envelope and content, and durable state changes. cleanup
// writes messages in; everything else reads and updates them through here.
// The storage format behind it is described in docs/ARCHITECTURE.md.
import type { DsnNotify } from './cleanup-api.js';
import type { RecipientOutcome } from './delivery-api.js';

/** Postfix's queue states. `maildrop` files are outside the store until pickup takes them. */
export type QueueState = 'incoming' | 'active' | 'deferred' | 'hold' | 'corrupt';

export interface StoredRecipient {
  readonly index: number;
  /** After cleanup's rewriting (canonical, virtual aliases). */
  readonly address: string;
  /** As received, for DSN/`orig_to=`. */
  readonly original: string;
  readonly orcpt?: string;
  readonly notify?: readonly DsnNotify[];
  /** Final outcome recorded (sent or bounced); such recipients are not tried again. */
  readonly done: boolean;
  /** Last temporary failure text, shown by `postqueue -p`. */
  readonly lastReason?: string;
}

export interface QueuedMessage {
  readonly queueId: string;
  readonly state: QueueState;
  /** ms since epoch. */
  readonly arrivalTime: number;
  readonly sender: string;
  readonly recipients: readonly StoredRecipient[];
  /** Content size in bytes. */
  readonly size: number;
  readonly envid?: string;
  readonly ret?: 'FULL' | 'HDRS';
  readonly body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  readonly smtputf8?: boolean;
  /** When a deferred message is next due (ms since epoch). */
  readonly nextAttempt?: number;
  /** Whether a delay warning was already sent (delay_warning_time). */
  readonly warned?: boolean;
  /** Force-expired by postsuper -e/-f: qmgr returns it to the sender at its next attempt. */
  readonly expired?: boolean;
  /** Client facts recorded by cleanup, for logs. */
  readonly client?: {
    readonly name: string;
    readonly addr: string;
    readonly helo: string;
    /** Client port and protocol name (XFORWARD PORT/PROTO when forwarded); older queue files lack them. */
    readonly port?: number;
    readonly protocol?: string;
  };
  /** Content filter (`transport:nexthop`) chosen by a header/body_checks FILTER action; overrides routing. */
  readonly filter?: string;
  /** `sendmail -bv`: agents only decide what would happen; the sender gets a delivery status report. */
  readonly verifyOnly?: boolean;
  /** verify(8)'s probe (with verifyOnly): answers go to the verify service, never to the sender. */
  readonly verifyProbe?: boolean;
}

/**
 * `lazy`: qmgr's delivery bookkeeping, which need not wait for its own sync:
 * written in order at once, on stable storage with the next synced write.
 * Lost in a crash, it can only make a message be tried again, as with
 * Postfix, which does not sync these steps either. Administrative changes
 * (postsuper) and new mail are always synced.
 */
export interface WriteMode {
  readonly lazy?: boolean;
}

/** The mode qmgr passes for its own state changes. */
export const LAZY: WriteMode = { lazy: true };

export interface QueueStore {
  /** Every message in the store now. */
  list(): Iterable<QueuedMessage>;
  get(queueId: string): QueuedMessage | undefined;
  /** The content as CRLF lines (not dot-stuffed). */
  openContent(queueId: string): AsyncIterable<Buffer>;
  /**
   * Called after a message becomes durable in `incoming`, so qmgr needs no
   * directory scan. Returns the way to stop listening (a reloaded qmgr).
   */
  onCommitted(listener: (queueId: string) => void): () => void;
  /** Durable state change (e.g. active → deferred with nextAttempt, → hold, hold → deferred on release). */
  setState(
    queueId: string,
    state: QueueState,
    opts?: { nextAttempt?: number; warned?: boolean; expired?: boolean } & WriteMode,
  ): Promise<void>;
  /** Durably record delivery outcomes; sent/bounced recipients become `done`, deferred keep their reason. */
  recordOutcomes(queueId: string, outcomes: readonly RecipientOutcome[], mode?: WriteMode): Promise<void>;
  /** Durably remove the message (all recipients done, or postsuper -d). */
  remove(queueId: string, mode?: WriteMode): Promise<void>;
}
