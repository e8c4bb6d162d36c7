// qmgr(8): the queue manager. Learns of new mail from QueueStore.onCommitted
// (no incoming directory scan), rescans deferred mail every queue_run_delay,
// moves messages into the active state within qmgr_message_active_limit,
// reads each message's recipients into memory in slices within the global and
// per-transport recipient limits (refilled as deliveries finish), resolves
// them through trivial-rewrite, and hands recipient batches to delivery
// agents: per transport by the preemptive job scheduler (transport-jobs.ts),
// per destination with concurrency feedback. Outcomes are recorded durably;
// the end of a round (notices, backoff, removal) is message-finish.ts.
// Touches: the queue store and delivery agents.
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type { DeliveryAgent, DeliveryRecipient, RecipientOutcome } from '../../global/queue/delivery-api.js';
import type { QueueStore, StoredRecipient } from '../../global/queue/store-api.js';
import type { BounceService } from '../bounce/bounce.js';
import type { ResolveMode, ResolveResult } from '../trivial-rewrite/trivial-rewrite.js';
import type { AddressVerifier } from '../verify/verify-api.js';
import { activeMessage, deliveryRequest, hasUnread, outcomeLine, type ActiveMessage } from './active-message.js';
import { ClogWarnings } from './clog-warning.js';
import { systemClock, type Clock } from './clock.js';
import { filterRoute, parseFilter } from './content-filter.js';
import { Destination, type Batch } from './destination.js';
import { Job } from './job.js';
import { forceExpiredLine } from './log-lines.js';
import { endsInRemoval, finishRound } from './message-finish.js';
import { qmgrSettings, type QmgrSettings } from './settings.js';
import { TransportJobs } from './transport-jobs.js';
import { TransportThrottle, type TransportFault } from './transport-throttle.js';
import { LAZY } from '../../global/queue/store-api.js';

export interface QmgrOptions {
  readonly config: ParamReader;
  readonly store: QueueStore;
  /** `verify` for verify(8)'s probes: the address_verify_* routing overrides. */
  readonly resolve: (addr: string, sender: string, mode?: ResolveMode) => Promise<ResolveResult>;
  /** The agent serving a master.cf transport name, or undefined when there is none. */
  readonly agentFor: (transport: string) => DeliveryAgent | undefined;
  readonly bounce: BounceService;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** master.cf maxproc per transport; default_process_limit otherwise. */
  readonly maxproc?: (transport: string) => number | undefined;
  /** The verify(8) service running now, which takes the answers of address verification probes. */
  readonly verify?: () => AddressVerifier | undefined;
}

/** Recipients resolved in one read, grouped by destination. */
interface Group {
  readonly transport: string;
  readonly nexthop: string;
  readonly rcpts: DeliveryRecipient[];
}

const SUSPENDED = 'delivery temporarily suspended';

export class Qmgr {
  private readonly s: QmgrSettings;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly active = new Map<string, ActiveMessage>();
  private readonly waiting: string[] = [];
  private readonly waitingSet = new Set<string>();
  private readonly destinations = new Map<string, Destination>();
  /** Per transport, the jobs and destinations with batches waiting. */
  private readonly transports = new Map<string, TransportJobs>();
  private readonly busy = new Map<string, number>();
  /** Recipients in memory, in all and per transport (qmgr_message_recipient_limit, <transport>_recipient_limit). */
  private activeRecipients = 0;
  /** verify(8) probes being delivered now (address_verify_pending_request_limit). */
  private readonly probeSlots = new Set<string>();
  private readonly transportRecipients = new Map<string, number>();
  private readonly throttle: TransportThrottle;
  private readonly agentLogs = new Map<string, Logger>();
  private readonly clog: ClogWarnings;
  private tasks = 0;
  private idleWaiters: (() => void)[] = [];
  private cancelScan: (() => void) | undefined;
  private unlisten: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly o: QmgrOptions) {
    this.s = qmgrSettings(o.config, o.maxproc);
    this.clock = o.clock ?? systemClock;
    this.log = o.logger;
    this.throttle = new TransportThrottle(this.s.transportRetry);
    this.clog = new ClogWarnings(this.log, this.s.clogWarn);
  }

  /** Restart recovery, then listen for new mail and scan deferred mail periodically. */
  async start(): Promise<void> {
    // Listen first: mail committed while recovery awaits must not slip through.
    this.unlisten = this.o.store.onCommitted((id) => this.enqueue(id));
    for (const m of [...this.o.store.list()]) {
      // Postfix's rule: whatever was active when we stopped is picked up again from the start.
      if (m.state === 'active') await this.o.store.setState(m.queueId, 'incoming', LAZY);
      if (m.state === 'active' || m.state === 'incoming') this.enqueue(m.queueId);
    }
    this.scanDeferred(false);
  }

  /**
   * Stop taking new work; deliveries in progress finish and record their
   * outcomes. Waiting messages stay in the store in their current state.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelScan?.();
    // A reload starts a new scheduler on the same store: this one must stop hearing of new mail.
    this.unlisten?.();
    this.unlisten = undefined;
    this.waiting.length = 0;
    this.waitingSet.clear();
    for (const tj of this.transports.values()) tj.clear();
    for (let i = 0; i < 10_000 && this.tasks > 0; i++) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /**
   * postqueue -f / sendmail -q: retry all deferred mail now and forget dead
   * destinations. With a site (ETRN, postqueue -s), only mail that has a
   * pending recipient in that domain or its subdomains.
   */
  flush(site?: string): void {
    const s = site?.toLowerCase().replace(/^\[|\]$/g, '');
    for (const d of this.destinations.values()) if (!s || d.nexthop.toLowerCase().includes(s)) d.revive();
    if (!s) {
      this.throttle.reset();
      this.scanDeferred(true);
      return;
    }
    for (const m of this.o.store.list()) {
      if (m.state !== 'deferred') continue;
      const hit = m.recipients.some((r) => {
        if (r.done) return false;
        const dom = r.address.slice(r.address.lastIndexOf('@') + 1).toLowerCase();
        return dom === s || dom.endsWith(`.${s}`);
      });
      if (hit) this.enqueue(m.queueId);
    }
  }

  /** Recipients now read into memory (qmgr_message_recipient_limit counts these). */
  inMemoryRecipients(): number {
    return this.activeRecipients;
  }

  /** Resolves when nothing is being activated, delivered or waiting (for tests and orderly shutdown). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.tasks === 0 && this.waiting.length === 0 && this.active.size === 0;
  }

  private settle(): void {
    if (!this.isIdle() && !(this.stopped && this.tasks === 0)) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Run an async step without letting its failure escape: a broken message must not stop the scheduler. */
  private track(what: string, p: Promise<void>): void {
    this.tasks++;
    p.catch((e: unknown) => this.log.warning(`${what}: ${(e as Error).message}`)).finally(() => {
      this.tasks--;
      this.pump();
      this.settle();
    });
  }

  private enqueue(queueId: string): void {
    if (this.stopped || this.active.has(queueId) || this.waitingSet.has(queueId)) return;
    this.waiting.push(queueId);
    this.waitingSet.add(queueId);
    this.pump();
  }

  private scanDeferred(all: boolean): void {
    this.cancelScan?.();
    if (this.stopped) return;
    const now = this.clock.now();
    for (const m of this.o.store.list()) {
      if (m.state === 'deferred' && (all || (m.nextAttempt ?? 0) <= now)) this.enqueue(m.queueId);
    }
    this.cancelScan = this.clock.setTimer(this.s.queueRunDelay * 1000, () => this.scanDeferred(false));
  }

  /** Admit waiting messages within the active limits, then start deliveries within the concurrency limits. */
  private pump(): void {
    if (this.stopped) return;
    while (this.waiting.length > 0 && this.active.size < this.s.activeLimit) {
      if (this.active.size > 0 && this.activeRecipients >= this.s.recipientLimit) break;
      const id = this.waiting.shift() as string;
      this.waitingSet.delete(id);
      const msg = this.o.store.get(id);
      // Held, corrupt or vanished (postsuper -d) messages are not ours to deliver.
      if (!msg || msg.state === 'hold' || msg.state === 'corrupt' || msg.state === 'active') continue;
      const am = activeMessage(msg, this.clock.now());
      this.active.set(id, am);
      this.track(`${id}: activate`, this.activateSafely(am));
    }
    const now = this.clock.now();
    for (const [transport, tj] of this.transports) {
      const limit = this.s.processLimit(transport);
      let busy = this.busy.get(transport) ?? 0;
      while (busy < limit) {
        const sel = tj.select(now);
        if (!sel) break;
        sel.d.inflight++;
        this.busy.set(transport, ++busy);
        this.track(`${sel.batch.queueId}: deliver`, this.deliver(sel.d, sel.batch));
      }
    }
  }

  private transportJobs(transport: string): TransportJobs {
    let tj = this.transports.get(transport);
    if (!tj) this.transports.set(transport, (tj = new TransportJobs(transport, this.s.slots(transport))));
    return tj;
  }

  /** Forget a destination that has nothing queued, nothing in flight and no suspension to remember. */
  private forgetIfIdle(d: Destination): void {
    if (d.queued === 0 && d.inflight === 0 && d.deadUntil === undefined) this.destinations.delete(d.key);
  }

  /**
   * A store failure while activating must not pin the message in memory:
   * it is released and, where the store still answers, retried later.
   */
  private async activateSafely(am: ActiveMessage): Promise<void> {
    try {
      await this.activate(am);
    } catch (e) {
      this.log.warning(`${am.msg.queueId}: cannot activate: ${(e as Error).message}`);
      if (am.batchesLeft > 0) return; // deliveries already queued will finish it
      this.retire(am);
      const retry = this.clock.now() + this.s.retry.minBackoff * 1000;
      await this.o.store.setState(am.msg.queueId, 'deferred', { nextAttempt: retry, ...LAZY }).catch(() => undefined);
    }
  }

  private async activate(am: ActiveMessage): Promise<void> {
    const { msg } = am;
    await this.o.store.setState(msg.queueId, 'active', LAZY);
    // The store logs `from=<...>, size=..., nrcpt=... (queue active)` as the state changes.
    am.todo = msg.recipients.filter((r) => !r.done);
    if (msg.expired) {
      // postsuper -e/-f: returned without an attempt, stating the last delay's reason if there was one.
      this.log.info(forceExpiredLine(msg.queueId, msg.sender));
      for (const r of am.todo) {
        this.immediate(am, r, 'bounced', '4.7.0', r.lastReason ?? 'message is administratively expired');
      }
      am.next = am.todo.length;
      await this.finish(am);
      return;
    }
    if (msg.verifyProbe === true) {
      if (this.probeSlots.size >= this.s.verifyPendingLimit) {
        // address_verify_pending_request_limit: the probe is answered "deferred" without an attempt.
        for (const r of am.todo) this.immediate(am, r, 'deferred', '4.3.2', 'Too many Verify requests');
        am.next = am.todo.length;
        await this.finish(am);
        return;
      }
      this.probeSlots.add(msg.queueId);
    }
    am.filter = msg.filter !== undefined ? parseFilter(msg.filter) : undefined;
    if (msg.filter !== undefined && !am.filter) {
      this.log.warning(`${msg.queueId}: ignoring bad content filter request: ${msg.filter}`);
    }
    await this.readMore(am);
  }

  /**
   * Read (resolve and batch) more of a message's recipients, as many as the
   * limits allow; again while nothing of it is left in memory. The message's
   * round ends here when the last batch finished while this was reading.
   */
  private async readMore(am: ActiveMessage): Promise<void> {
    if (am.reading) return;
    am.reading = true;
    try {
      do {
        am.freed = 0;
        am.lastRefill = this.clock.now();
        const decided = await this.readSlice(am);
        this.pump();
        // Deferrals decided here are made durable too; the extra count keeps a
        // fast agent from finishing the message while that write is pending.
        // (Bounces are recorded in finish, once their notice is queued.)
        am.batchesLeft++;
        try {
          if (decided.length > 0) await this.o.store.recordOutcomes(am.msg.queueId, decided, LAZY);
        } finally {
          am.batchesLeft--;
        }
      } while (am.batchesLeft === 0 && hasUnread(am) && !this.stopped);
    } finally {
      am.reading = false;
    }
    if (am.batchesLeft > 0 || this.active.get(am.msg.queueId) !== am) return;
    // Stopped halfway: the message stays active on disk and is read again by the next start.
    if (hasUnread(am)) this.retire(am);
    else await this.finish(am);
  }

  /** One slice of recipients into batches; returns the deferrals qmgr decided itself (to record). */
  private async readSlice(am: ActiveMessage): Promise<RecipientOutcome[]> {
    const { msg } = am;
    const decided: RecipientOutcome[] = [];
    const defer = (r: StoredRecipient, dsn: string, reason: string): void => {
      decided.push(this.immediate(am, r, 'deferred', dsn, reason));
    };
    const groups = new Map<string, Group>();
    const taken = new Map<string, number>();
    let count = 0;
    while (hasUnread(am) && !this.stopped) {
      const r = am.todo[am.next] as StoredRecipient;
      // Every message may hold qmgr_message_recipient_minimum; beyond that the limits apply.
      const beyondMinimum = am.inMemory + count >= this.s.recipientMinimum;
      if (beyondMinimum && this.activeRecipients + count >= this.s.recipientLimit) break;
      let res: ResolveResult;
      try {
        res = await this.o.resolve(r.address, msg.sender, msg.verifyProbe === true ? 'verify' : 'normal');
      } catch (e) {
        am.next++;
        defer(r, '4.3.0', `address resolver failure: ${(e as Error).message}`);
        continue;
      }
      if (res.flags.fail) {
        am.next++;
        defer(r, '4.3.0', 'address resolver failure');
        continue;
      }
      if (res.flags.error) {
        // Malformed (bad domain syntax, bare IP address): no agent could do better.
        am.next++;
        this.immediate(am, r, 'bounced', '5.1.3', 'bad address syntax');
        continue;
      }
      if (am.filter) {
        // The content filter gets every recipient, whatever its address class (the filter's copy comes back unfiltered).
        res = { ...res, ...filterRoute(am.filter, r.address, this.s.defaultFilterNexthop), recipient: r.address };
      }
      const t = res.transport;
      if (beyondMinimum && this.overTransportLimit(am, t, taken.get(t) ?? 0)) break;
      am.next++;
      if (this.s.deferTransports.has(t)) {
        defer(r, '4.3.2', 'deferred transport');
        continue;
      }
      const fault = this.transportFault(t);
      if (fault) {
        defer(r, fault.dsn, fault.reason);
        continue;
      }
      // With a recipient limit of 1 (local), each recipient is its own destination, as in Postfix.
      const perRcpt = this.s.destinationRecipientLimit(t) === 1;
      const key = `${t}\0${res.nexthop}${perRcpt ? `\0${res.recipient.toLowerCase()}` : ''}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { transport: t, nexthop: res.nexthop, rcpts: [] }));
      // Optional fields assigned, not spread: one of these per recipient read.
      const rcpt: { -readonly [K in keyof DeliveryRecipient]: DeliveryRecipient[K] } = {
        address: res.recipient,
        original: r.original,
        index: r.index,
      };
      if (r.orcpt !== undefined) rcpt.orcpt = r.orcpt;
      if (r.notify !== undefined) rcpt.notify = r.notify;
      g.rcpts.push(rcpt);
      taken.set(t, (taken.get(t) ?? 0) + 1);
      count++;
    }
    for (const [key, g] of groups) this.addBatches(am, key, g, decided);
    return decided;
  }

  /**
   * <transport>_recipient_limit: a transport's in-memory recipients stay
   * below it; a message that has not had a delivery on it yet (one that may
   * preempt) may also use the <transport>_extra_recipient_limit room.
   */
  private overTransportLimit(am: ActiveMessage, transport: string, taking: number): boolean {
    const p = this.s.recipients(transport);
    const job = am.jobs.get(transport);
    const room = p.limit + (job === undefined || job.selected === 0 ? p.extra : 0);
    return (this.transportRecipients.get(transport) ?? 0) + taking >= room;
  }

  /**
   * Why a transport cannot take mail now: suspended after its agent failed,
   * or no agent publishes it. A missing agent is not remembered: during
   * start-up and `postfix reload` services appear a moment apart.
   */
  private transportFault(transport: string): TransportFault | undefined {
    const f = this.throttle.fault(transport, this.clock.now());
    if (f || this.o.agentFor(transport)) return f;
    return { dsn: '4.3.0', reason: 'mail transport unavailable' };
  }

  private addBatches(am: ActiveMessage, key: string, g: Group, decided: RecipientOutcome[]): void {
    const now = this.clock.now();
    let d = this.destinations.get(key);
    if (!d) {
      d = new Destination(key, g.transport, g.nexthop, this.s.concurrency(g.transport));
      d.ahead = this.o.agentFor(g.transport)?.queuedAhead ?? 0;
      this.destinations.set(key, d);
    }
    if (d.isDead(now)) {
      const f = d.lastFailure;
      const reason = `${SUSPENDED}: ${f?.reason ?? 'destination unavailable'}`;
      for (const r of g.rcpts) {
        decided.push(
          this.immediate(am, am.byIndex.get(r.index) as StoredRecipient, 'deferred', f?.dsn ?? '4.4.1', reason),
        );
      }
      return;
    }
    const tj = this.transportJobs(g.transport);
    let job = am.jobs.get(g.transport);
    if (!job) {
      job = new Job(am.msg.queueId, g.transport, am.enteredActive, () => am.todo.length - am.next);
      am.jobs.set(g.transport, job);
    }
    const limit = this.s.destinationRecipientLimit(g.transport);
    for (let i = 0; i < g.rcpts.length; i += limit) {
      const recipients = g.rcpts.slice(i, i + limit);
      tj.add(job, d, { queueId: am.msg.queueId, transport: g.transport, nexthop: g.nexthop, recipients });
      am.batchesLeft++;
    }
    const n = g.rcpts.length;
    am.inMemory += n;
    this.activeRecipients += n;
    this.transportRecipients.set(g.transport, (this.transportRecipients.get(g.transport) ?? 0) + n);
    this.clog.check(
      d,
      {
        activeLimit: this.s.activeLimit,
        activeMessages: this.active.size,
        concurrencyLimit: this.s.concurrency(g.transport).limit,
        sharesTransport: tj.queued > d.queued,
      },
      now,
    );
  }

  /** A batch is done (delivered or deferred): its recipients leave memory. */
  private release(am: ActiveMessage, batch: Batch): void {
    const n = batch.recipients.length;
    am.batchesLeft--;
    am.inMemory -= n;
    am.freed += n;
    this.activeRecipients -= n;
    this.transportRecipients.set(batch.transport, (this.transportRecipients.get(batch.transport) ?? n) - n);
  }

  /**
   * After a batch: the round ends when nothing is left; otherwise more
   * recipients are read once <transport>_recipient_refill_limit of them
   * finished or <transport>_recipient_refill_delay passed since the last read.
   */
  private async afterBatch(am: ActiveMessage, transport: string): Promise<void> {
    if (am.reading || this.active.get(am.msg.queueId) !== am) return;
    const unread = hasUnread(am);
    if (am.batchesLeft === 0) {
      if (unread) await this.readMore(am);
      else await this.finish(am);
      return;
    }
    const p = this.s.recipients(transport);
    if (unread && (am.freed >= p.refillLimit || this.clock.now() - am.lastRefill >= p.refillDelay)) {
      await this.readMore(am);
    }
  }

  /** An outcome decided by qmgr itself (no agent ran): logged as qmgr's own. */
  private immediate(
    am: ActiveMessage,
    rcpt: StoredRecipient,
    status: 'deferred' | 'bounced',
    dsn: string,
    reason: string,
  ): RecipientOutcome {
    const outcome: RecipientOutcome = { index: rcpt.index, status, dsn, relay: 'none', reason };
    am.outcomes.set(rcpt.index, { rcpt, outcome });
    this.logOutcome(this.log, am, rcpt, outcome, this.clock.now(), this.clock.now());
    return outcome;
  }

  private logOutcome(
    log: Logger,
    am: ActiveMessage,
    rcpt: { address: string; original: string },
    o: RecipientOutcome,
    started: number,
    ended: number,
  ): void {
    log.info(outcomeLine(am, rcpt, o, started, ended, this.s.delayResolution));
  }

  private async deliver(d: Destination, batch: Batch): Promise<void> {
    const am = this.active.get(batch.queueId);
    const agent = this.o.agentFor(batch.transport);
    // The destination's slot is free once the agent has answered, as in Postfix: the
    // queue file updates that follow must not hold up the destination's next delivery.
    let released = false;
    const freeSlot = (): void => {
      if (released) return;
      released = true;
      d.inflight--;
      const resume = d.pauseAfterDelivery(this.clock.now());
      // The destination_rate_delay pause ends on a timer, which starts the next delivery.
      if (resume !== undefined && d.queued > 0) this.clock.setTimer(resume - this.clock.now(), () => this.pump());
      this.forgetIfIdle(d);
      this.busy.set(batch.transport, (this.busy.get(batch.transport) ?? 1) - 1);
      this.pump();
    };
    try {
      if (!am) return;
      const msg = am.msg;
      const started = this.clock.now();
      let outcomes: RecipientOutcome[] = [];
      let fault: TransportFault | undefined;
      if (!agent) fault = { dsn: '4.3.0', reason: 'mail transport unavailable' };
      else {
        try {
          outcomes = await agent.deliver(deliveryRequest(this.o.store, msg, batch));
        } catch (e) {
          this.log.warning(`${msg.queueId}: ${batch.transport} delivery agent failed: ${(e as Error).message}`);
          fault = { dsn: '4.3.0', reason: 'unknown mail transport error' };
        }
      }
      const ended = this.clock.now();
      const agentLog = agent ? this.agentLogger(agent.command) : this.log;
      const complete = matchOutcomes(batch.recipients, outcomes, fault);
      for (const [i, o] of complete.entries()) {
        const r = batch.recipients[i] as DeliveryRecipient;
        this.logOutcome(agentLog, am, r, o, started, ended);
        const stored = am.byIndex.get(r.index) as StoredRecipient;
        const rcpt = stored.address === r.address ? stored : { ...stored, address: r.address };
        am.outcomes.set(r.index, { rcpt, outcome: o });
      }
      // A broken transport is left alone for transport_retry_time; what waits for it is deferred now.
      if (fault && agent) this.suspendTransport(batch.transport, fault);
      // Connection-level failure: every recipient deferred without reaching a server.
      const siteFailure = complete.every((o) => o.status === 'deferred' && o.relay === 'none');
      if (fault) {
        // the transport, not the destination, failed: its feedback does not apply
      } else if (!siteFailure) d.success();
      else {
        const first = complete[0] as RecipientOutcome;
        if (d.failure(first.dsn, first.reason, ended, this.s.retry.minBackoff * 1000)) {
          const reason = `${SUSPENDED}: ${first.reason}`;
          this.deferWaiting(d, first.dsn, reason);
        }
      }
      freeSlot();
      // Bounced recipients are recorded only once their notice is queued (in finish), so none is lost.
      // A message deleted meanwhile (postsuper -d) has nothing left to record, and one whose round
      // now ends in its removal needs no record that the removal makes moot (finishRound records
      // them after all if the removal fails).
      // Only the batch that brings the last answer of the round can tell (cheap count first).
      const lastAnswer = am.outcomes.size === am.todo.length && !hasUnread(am);
      const removing = lastAnswer && endsInRemoval(msg, am.outcomes.values(), (index) => am.outcomes.has(index));
      if (!removing && this.o.store.get(msg.queueId))
        await this.o.store.recordOutcomes(
          msg.queueId,
          complete.filter((o) => o.status !== 'bounced'),
          LAZY,
        );
    } finally {
      freeSlot();
      if (am) {
        this.release(am, batch);
        await this.afterBatch(am, batch.transport);
      }
    }
  }

  /** The logger for a delivery agent's status lines (`postfix/smtp`), made once per agent name. */
  private agentLogger(command: string): Logger {
    let log = this.agentLogs.get(command);
    if (!log) this.agentLogs.set(command, (log = this.log.child(command)));
    return log;
  }

  private suspendTransport(transport: string, fault: TransportFault): void {
    this.throttle.suspend(transport, fault, this.clock.now());
    for (const d of [...this.destinations.values()]) {
      if (d.transport === transport) this.deferWaiting(d, fault.dsn, fault.reason);
    }
  }

  /** A dead destination or transport: its waiting batches are deferred at once instead of trying each. */
  private deferWaiting(d: Destination, dsn: string, reason: string): void {
    const batches = this.transports.get(d.transport)?.takeAll(d) ?? [];
    for (const batch of batches) {
      const am = this.active.get(batch.queueId);
      if (!am) continue;
      const outcomes: RecipientOutcome[] = [];
      for (const r of batch.recipients) {
        const stored = am.byIndex.get(r.index) as StoredRecipient;
        const o: RecipientOutcome = { index: r.index, status: 'deferred', dsn, relay: 'none', reason };
        outcomes.push(o);
        am.outcomes.set(r.index, { rcpt: { ...stored, address: r.address }, outcome: o });
        this.logOutcome(this.log, am, r, o, this.clock.now(), this.clock.now());
      }
      this.track(
        `${batch.queueId}: suspend`,
        this.o.store.recordOutcomes(batch.queueId, outcomes, LAZY).finally(() => {
          this.release(am, batch);
          return this.afterBatch(am, batch.transport);
        }),
      );
    }
    this.forgetIfIdle(d);
  }

  /** Leave the active queue in memory: the message's jobs are withdrawn from the scheduler. */
  private retire(am: ActiveMessage): void {
    this.active.delete(am.msg.queueId);
    this.probeSlots.delete(am.msg.queueId);
    for (const job of am.jobs.values()) this.transports.get(job.transport)?.remove(job);
  }

  /** All batches are back: notices, then deferred with backoff, or removed. */
  private async finish(am: ActiveMessage): Promise<void> {
    const { msg } = am;
    try {
      // Deleted while active (postsuper -d): nothing left to update.
      if (!this.o.store.get(msg.queueId)) return;
      await finishRound(
        {
          store: this.o.store,
          bounce: this.o.bounce,
          log: this.log,
          retry: this.s.retry,
          now: () => this.clock.now(),
          verifier: () => this.o.verify?.(),
        },
        msg,
        [...am.outcomes.values()],
        (index) => am.outcomes.has(index),
      );
    } finally {
      this.retire(am);
    }
  }
}

/**
 * One outcome per recipient of the batch, in its order; a recipient the agent
 * did not answer for is deferred (with the transport's fault, if it failed).
 * Agents answer in request order, so the common case needs no index map.
 */
function matchOutcomes(
  recipients: readonly DeliveryRecipient[],
  outcomes: readonly RecipientOutcome[],
  fault: TransportFault | undefined,
): RecipientOutcome[] {
  let byIndex: Map<number, RecipientOutcome> | undefined;
  return recipients.map((r, i) => {
    const same = outcomes[i];
    if (same?.index === r.index) return same;
    byIndex ??= new Map(outcomes.map((o) => [o.index, o]));
    return (
      byIndex.get(r.index) ?? {
        index: r.index,
        status: 'deferred',
        dsn: fault?.dsn ?? '4.3.0',
        relay: 'none',
        reason: fault?.reason ?? 'unknown mail transport error',
      }
    );
  });
}
