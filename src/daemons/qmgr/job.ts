// A job in qmgr(8)'s preemptive scheduler (Postfix's nqmgr): one message's
// work for one transport. It holds the message's recipient batches per
// destination ("peers"), handed out round-robin across those destinations,
// and the delivery-slot bookkeeping that lets a later, smaller job preempt it
// (see transport-jobs.ts).
import type { Batch, Destination } from './destination.js';

export class Job {
  /** Batches per destination; Map order is the round-robin order. */
  private readonly peers = new Map<Destination, Batch[]>();
  /** Batches waiting to be handed out. */
  queued = 0;
  /** Batches created so far (Postfix's read_entries). */
  read = 0;
  /** Batches handed out to delivery agents. */
  selected = 0;
  /** One per selected batch; divided by the slot cost when compared (may go negative after a loan). */
  slots = 0;
  /** The job this one preempted, while it is on the transport's job stack. */
  parent: Job | undefined;
  onStack = false;

  constructor(
    readonly queueId: string,
    readonly transport: string,
    /** When the message entered the active queue (ms). */
    readonly since: number,
    /** The message's recipients not yet read into memory: they may still add batches here. */
    private readonly unread: () => number,
  ) {}

  /** The most batches this job can still come to have (Postfix's MAX_ENTRIES): an upper bound. */
  maxEntries(): number {
    return this.read + this.unread();
  }

  add(d: Destination, batch: Batch): void {
    let list = this.peers.get(d);
    if (!list) {
      this.peers.set(d, (list = []));
      d.jobs.add(this);
    }
    list.push(batch);
    this.queued++;
    this.read++;
    d.queued++;
  }

  /** Whether some destination of this job could start a delivery now. */
  hasReady(now: number): boolean {
    for (const d of this.peers.keys()) if (d.canStart(now)) return true;
    return false;
  }

  /** The next batch to a destination that can start now, round-robin over destinations. */
  take(now: number): { d: Destination; batch: Batch } | undefined {
    for (const [d, list] of this.peers) {
      if (!d.canStart(now)) continue;
      const batch = list.shift() as Batch;
      this.peers.delete(d);
      // To the back of this job's line, so each destination gets its turn.
      if (list.length > 0) this.peers.set(d, list);
      else d.jobs.delete(this);
      this.queued--;
      d.queued--;
      return { d, batch };
    }
    return undefined;
  }

  /** The oldest batch waiting for one destination (when the destination picks the job). */
  takeFor(d: Destination): Batch | undefined {
    const list = this.peers.get(d);
    const batch = list?.shift();
    if (!list || !batch) return undefined;
    if (list.length === 0) {
      this.peers.delete(d);
      d.jobs.delete(this);
    }
    this.queued--;
    d.queued--;
    return batch;
  }

  /** Every batch waiting for a destination (a dead destination defers them all at once). */
  takeAll(d: Destination): Batch[] {
    const list = this.peers.get(d) ?? [];
    this.peers.delete(d);
    d.jobs.delete(this);
    this.queued -= list.length;
    d.queued -= list.length;
    return list;
  }

  /** Forget everything waiting (qmgr stops). */
  clear(): void {
    for (const d of [...this.peers.keys()]) this.takeAll(d);
  }
}
