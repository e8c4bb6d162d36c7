// A message in qmgr(8)'s active queue: what one delivery round of it needs
// in memory (the recipients still to read, the batches out, this round's
// outcomes, its job per transport), the DeliveryRequest an agent gets for
// one of its batches, and the status line of one recipient's outcome.
import type { DeliveryRequest, RecipientOutcome } from '../../global/queue/delivery-api.js';
import type { QueuedMessage, QueueStore, StoredRecipient } from '../../global/queue/store-api.js';
import type { Batch } from './destination.js';
import type { Job } from './job.js';
import { recipientLogLine } from './log-lines.js';
import { noticeMessage } from './message-finish.js';

export interface ActiveMessage {
  readonly msg: QueuedMessage;
  readonly enteredActive: number;
  /** The stored recipients by index (messages may have thousands). */
  readonly byIndex: ReadonlyMap<number, StoredRecipient>;
  batchesLeft: number;
  /** This round's final outcome per recipient index. */
  readonly outcomes: Map<number, { rcpt: StoredRecipient; outcome: RecipientOutcome }>;
  /** The recipients to deliver this round; those from `next` on are not read into memory yet. */
  todo: readonly StoredRecipient[];
  next: number;
  /** Recipients in batches not yet finished (Postfix's in-memory recipients). */
  inMemory: number;
  /** Recipients finished since the last refill, and when that was (ms). */
  freed: number;
  lastRefill: number;
  reading: boolean;
  filter: { transport: string; nexthop: string } | undefined;
  /** This message's job on each transport. */
  readonly jobs: Map<string, Job>;
}

export function activeMessage(msg: QueuedMessage, now: number): ActiveMessage {
  return {
    msg,
    enteredActive: now,
    byIndex: new Map(msg.recipients.map((r) => [r.index, r])),
    batchesLeft: 0,
    outcomes: new Map(),
    todo: [],
    next: 0,
    inMemory: 0,
    freed: 0,
    lastRefill: now,
    reading: false,
    filter: undefined,
    jobs: new Map(),
  };
}

export function hasUnread(am: ActiveMessage): boolean {
  return am.next < am.todo.length;
}

/** The request for one batch of a message. */
export function deliveryRequest(store: QueueStore, msg: QueuedMessage, batch: Batch): DeliveryRequest {
  // The message's own facts, as a notice about it has them too; then this batch's.
  // Assigned rather than spread: this runs once per delivery.
  const req: Mutable<DeliveryRequest> = Object.assign(noticeMessage(store, msg), {
    transport: batch.transport,
    nexthop: batch.nexthop,
    recipients: batch.recipients,
  });
  // Only what DeliveryRequest carries: the delivery channel refuses unknown client fields.
  if (msg.client !== undefined) req.client = { name: msg.client.name, addr: msg.client.addr, helo: msg.client.helo };
  if (msg.verifyOnly === true) req.verifyOnly = true;
  return req;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The `to=<...>, relay=..., delays=a/b/c/d, ... status=...` line; delays split at activation and hand-over. */
export function outcomeLine(
  am: ActiveMessage,
  rcpt: { address: string; original: string },
  o: RecipientOutcome,
  started: number,
  ended: number,
  resolution: number,
): string {
  const a = (am.enteredActive - am.msg.arrivalTime) / 1000;
  const b = (started - am.enteredActive) / 1000;
  const d = (ended - started) / 1000;
  const total = (ended - am.msg.arrivalTime) / 1000;
  return recipientLogLine(
    am.msg.queueId,
    rcpt,
    o,
    total,
    { beforeActive: a, inActive: b, setup: 0, transmission: d },
    resolution,
    am.msg.verifyOnly === true,
  );
}
