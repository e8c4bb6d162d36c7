// Maildir deliveries to one mailbox share the cost of their syncs (local(8)
// and virtual(8) in the delivery process). qmgr sends a few requests per
// destination ahead (DeliveryAgent.queuedAhead); the delivery process runs at
// most `<transport>_destination_concurrency_limit` of them at once
// (delivery/destination-gate.ts). Without this, each of those runs wrote its
// one file and waited for its own fsync while the next request for the same
// mailbox waited at the gate. Here a run that reaches its maildir write hands
// the file to the mailbox's writer and lends its gate slot to the next
// request meanwhile; the writer keeps at most `limit` helper requests per
// mailbox in flight (a batch counts as one writer) and sends whatever has
// queued behind them as one batch, which the helper writes, syncs together
// and only then links into new/ (native/postern-deliver.c `maildirs`). Every
// file is still synced before its delivery is reported; each answer is that
// file's own. Touches: processes (the helper pool).
import type { SpawnIdentity } from './identity.js';
import { HelperPool } from './helper-pool.js';

/** The destination slot a delivery holds in the delivery process, lent out while its mailbox write waits. */
export interface WriteSlot {
  /** Helper requests per mailbox at once: the destination's concurrency limit (> 0). */
  readonly limit: number;
  /** Let the next delivery to this destination start while this one waits for its write. */
  release(): void;
  /** Take a slot again (ahead of deliveries that have not started yet). */
  reclaim(): Promise<void>;
  /** True once the delivery was given up (the channel closed): its write must not start then. */
  abandoned(): boolean;
}

/**
 * The slot of each gated delivery, by its request object (set by the delivery process; absent
 * elsewhere: single writes then). Looked up by the agent rather than carried in an
 * AsyncLocalStorage, whose promise hooks made every await in the process ~3x dearer.
 */
export const writeSlots = new WeakMap<object, WriteSlot>();

export type BatchResult = { readonly ok: true } | { readonly ok: false; readonly dsn: string; readonly reason: string };

export interface BatchItem {
  readonly unique: string;
  readonly data: Buffer;
}

/** Runs one helper request for a batch; one result per item, in order. */
export type BatchRunner = (
  who: SpawnIdentity,
  base: string,
  limit: number,
  items: BatchItem[],
) => Promise<BatchResult[]>;

/** Most files, and bytes, per helper request (the helper's own limits are 64 files, 16 MiB). */
export const MAX_BATCH_FILES = 32;
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Most bytes of file names per request: its arguments, with the path, stay within the helper's 16 KiB. */
const MAX_NAME_BYTES = 8 * 1024;

interface Waiting extends BatchItem {
  readonly slot: WriteSlot;
  readonly resolve: (r: BatchResult) => void;
}

interface Mailbox {
  writing: number;
  readonly queue: Waiting[];
  /** A pump is scheduled for this turn of the event loop. */
  scheduled: boolean;
}

export class MaildirBatcher {
  private readonly boxes = new Map<string, Mailbox>();

  constructor(private readonly runBatch: BatchRunner) {}

  /** Write `data` as tmp/`unique` → new/`unique` of `base` with the others queued for this mailbox. */
  async submit(
    who: SpawnIdentity & { ok: true },
    base: string,
    limit: number,
    item: BatchItem,
    slot: WriteSlot,
  ): Promise<BatchResult> {
    const key = `${HelperPool.keyOf(who)}\0${limit}\0${base}`;
    const box = this.boxes.get(key) ?? { writing: 0, queue: [], scheduled: false };
    this.boxes.set(key, box);
    const result = new Promise<BatchResult>((resolve) => box.queue.push({ ...item, slot, resolve }));
    slot.release();
    // Requests that arrived together (one read from the channel) reach here in the same turn: they go as one batch.
    if (!box.scheduled) {
      box.scheduled = true;
      setImmediate(() => {
        box.scheduled = false;
        this.pump(key, box, who, base, limit);
      });
    }
    try {
      return await result;
    } finally {
      await slot.reclaim();
    }
  }

  /** Mailboxes with writes queued or in flight (tests). */
  load(): number {
    return this.boxes.size;
  }

  private pump(key: string, box: Mailbox, who: SpawnIdentity, base: string, limit: number): void {
    const writers = (): number => Math.max(1, box.queue[0]?.slot.limit ?? 1);
    while (box.queue.length > 0 && box.writing < writers()) {
      // What is queued is shared out over the free writers: each file's creation costs the kernel
      // CPU time of its own, so two writers at work beat one with a batch twice as big.
      const free = writers() - box.writing;
      const share = Math.min(MAX_BATCH_FILES, Math.ceil(box.queue.length / free));
      const batch: Waiting[] = [];
      let bytes = 0;
      let names = 0;
      while (box.queue.length > 0 && batch.length < share) {
        const next = box.queue[0] as Waiting;
        const full = bytes + next.data.length > MAX_BATCH_BYTES || names + next.unique.length + 12 > MAX_NAME_BYTES;
        if (batch.length > 0 && full) break;
        box.queue.shift();
        // The core has deferred a delivery whose channel closed: writing it now would duplicate it.
        if (next.slot.abandoned()) {
          next.resolve({ ok: false, dsn: '4.3.0', reason: 'delivery abandoned: delivery channel closed' });
          continue;
        }
        batch.push(next);
        bytes += next.data.length;
        names += next.unique.length + 12;
      }
      if (batch.length === 0) continue;
      box.writing++;
      void this.runBatch(who, base, limit, batch).then(
        (results) => this.finish(key, box, who, base, limit, batch, results),
        (e: unknown) => this.finish(key, box, who, base, limit, batch, [], (e as Error).message),
      );
    }
    if (box.writing === 0 && box.queue.length === 0 && !box.scheduled) this.boxes.delete(key);
  }

  private finish(
    key: string,
    box: Mailbox,
    who: SpawnIdentity,
    base: string,
    limit: number,
    batch: Waiting[],
    results: BatchResult[],
    error?: string,
  ): void {
    box.writing--;
    batch.forEach((w, i) =>
      w.resolve(
        results[i] ?? {
          ok: false,
          dsn: '4.3.0',
          reason: `delivery helper failed: ${error ?? 'no answer for message'}`,
        },
      ),
    );
    this.pump(key, box, who, base, limit);
  }
}
