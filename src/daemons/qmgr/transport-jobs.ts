// qmgr(8)'s preemptive scheduling for one transport (Postfix's nqmgr, see
// SCHEDULING_README): jobs are served oldest first, but the current job
// earns one delivery slot per <transport>_delivery_slot_cost batches it is
// given, and a later job that needs no more slots than the current one has
// earned (less <transport>_delivery_slot_discount percent, plus a loan of
// <transport>_delivery_slot_loan slots) preempts it: it goes on top of the
// job stack and is served first, and the preempted job pays for the slots.
// So a one-recipient message is not stuck behind a 5,000-recipient list to
// the same transport, while the list is slowed down by at most about
// 1/slot_cost. Jobs too small to ever earn <transport>_minimum_delivery_slots
// are never preempted; a slot cost below 2 turns preemption off. When the
// stack's jobs cannot start (their destinations are at their concurrency
// limit), the free agent goes to the other destinations in round-robin order,
// each serving its oldest job.
import type { Batch, Destination } from './destination.js';
import type { Job } from './job.js';

export interface SlotPolicy {
  readonly cost: number;
  readonly loan: number;
  /** Percent. */
  readonly discount: number;
  readonly minSlots: number;
}

export interface Selection {
  readonly job: Job;
  readonly d: Destination;
  readonly batch: Batch;
}

/** Candidates examined per preemption attempt: bounds the work per delivery with a full active queue. */
const CANDIDATE_SCAN_LIMIT = 1000;

export class TransportJobs {
  /** Jobs in the order they arrived here; emptied jobs leave from the front as they are met. */
  private readonly jobs = new Set<Job>();
  private top: Job | undefined;
  /** Destinations with batches waiting, round-robin (entries may be stale: checked when visited). */
  private readonly ready = new Set<Destination>();
  private waiting = 0;
  /** Changes whenever a job gains batches; a fruitless candidate scan is not repeated until something changed. */
  private version = 0;
  private lastScan = '';

  constructor(
    readonly transport: string,
    private readonly policy: SlotPolicy,
  ) {}

  /** Batches waiting for an agent. */
  get queued(): number {
    return this.waiting;
  }

  add(job: Job, d: Destination, batch: Batch): void {
    this.jobs.add(job);
    job.add(d, batch);
    this.ready.add(d);
    this.waiting++;
    this.version++;
  }

  /** The next batch to hand to an agent, or undefined when none can start now. */
  select(now: number): Selection | undefined {
    if (this.waiting === 0) return undefined;
    this.popFinished();
    const current = this.top ?? this.oldest();
    if (!current) return undefined;
    this.preempt(current, now);
    for (let j: Job | undefined = this.top ?? current; j; j = j.parent) {
      const t = j.take(now);
      if (t) return this.picked(j, t.d, t.batch);
    }
    let visits = this.ready.size;
    for (const d of this.ready) {
      if (visits-- <= 0) break;
      this.ready.delete(d);
      if (d.queued === 0) continue;
      // To the back of the line, so every destination gets its turn.
      this.ready.add(d);
      if (!d.canStart(now)) continue;
      const job = d.jobs.values().next().value as Job;
      const batch = job.takeFor(d) as Batch;
      if (d.queued === 0) this.ready.delete(d);
      return this.picked(job, d, batch);
    }
    return undefined;
  }

  /** Every batch waiting for a destination, taken away (the destination is dead). */
  takeAll(d: Destination): Batch[] {
    const out: Batch[] = [];
    for (const job of [...d.jobs]) out.push(...job.takeAll(d));
    this.ready.delete(d);
    this.waiting -= out.length;
    return out;
  }

  /** The message left the active queue. */
  remove(job: Job): void {
    this.waiting -= job.queued;
    job.clear();
    this.jobs.delete(job);
    if (!job.onStack) return;
    if (this.top === job) this.top = job.parent;
    else for (let k = this.top; k; k = k.parent) if (k.parent === job) k.parent = job.parent;
    job.parent = undefined;
    job.onStack = false;
  }

  /** Forget all waiting work (qmgr stops). */
  clear(): void {
    for (const job of this.jobs) job.clear();
    this.jobs.clear();
    this.ready.clear();
    this.top = undefined;
    this.waiting = 0;
  }

  private picked(job: Job, d: Destination, batch: Batch): Selection {
    job.selected++;
    job.slots++;
    this.waiting--;
    return { job, d, batch };
  }

  /** Jobs at the top of the stack with nothing left to hand out make way for the one they preempted. */
  private popFinished(): void {
    while (this.top && this.top.queued === 0) {
      const t = this.top;
      this.top = t.parent;
      t.parent = undefined;
      t.onStack = false;
    }
  }

  private oldest(): Job | undefined {
    for (const j of this.jobs) {
      if (j.queued > 0) return j;
      // Deleting the element being visited is safe for a Set; a refilled job comes back at the end.
      this.jobs.delete(j);
    }
    return undefined;
  }

  /** Put a later job on top of `current` when current has earned (or may borrow) the slots it needs. */
  private preempt(current: Job, now: number): void {
    const p = this.policy;
    if (p.cost < 2) return;
    // Integer division as in Postfix, so a job in debt (negative slots) rounds toward zero.
    if (Math.trunc(current.maxEntries() / p.cost) < p.minSlots) return;
    const avail = Math.trunc(current.slots / p.cost) + p.loan;
    const key = `${current.queueId}\0${avail}\0${this.version}`;
    if (key === this.lastScan) return;
    let best: Job | undefined;
    let bestNeeded = 0;
    let bestScore = -1;
    let blocked = false;
    let after = false;
    let seen = 0;
    for (const j of this.jobs) {
      if (!after) {
        after = j === current;
        continue;
      }
      if (++seen > CANDIDATE_SCAN_LIMIT) break;
      if (j.onStack || j.queued === 0) continue;
      const needed = j.maxEntries() - j.selected;
      if (needed <= 0 || avail < Math.trunc((needed * (100 - p.discount)) / 100)) continue;
      if (!j.hasReady(now)) {
        // Its destinations may free up before anything else changes: scan again next time.
        blocked = true;
        continue;
      }
      // The job that has waited longest for the fewest deliveries goes first.
      const score = (now - j.since + 1) / needed;
      if (score > bestScore) {
        best = j;
        bestNeeded = needed;
        bestScore = score;
      }
    }
    if (!best) {
      if (!blocked) this.lastScan = key;
      return;
    }
    current.slots -= bestNeeded * p.cost;
    current.onStack = true;
    best.parent = current;
    best.onStack = true;
    this.top = best;
  }
}
