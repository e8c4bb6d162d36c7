// qmgr(8): the queue manager. Learns of new mail from QueueStore.onCommitted
// (no incoming directory scan), rescans deferred mail every queue_run_delay,
// moves messages into the active state within qmgr_message_active_limit,
// resolves recipients through trivial-rewrite, and hands recipient batches to
// delivery agents per destination with concurrency feedback. Outcomes are
// recorded durably; deferred mail backs off; expired mail and bounced
// recipients go to bounce(8). Touches: the queue store and delivery agents.
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type { DeliveryAgent, DeliveryRecipient, RecipientOutcome } from '../../global/queue/delivery-api.js';
import type { QueuedMessage, QueueStore, StoredRecipient } from '../../global/queue/store-api.js';
import type { BounceService } from '../bounce/bounce.js';
import type { ResolveResult } from '../trivial-rewrite/trivial-rewrite.js';
import { backoffDelay, delayWarningDue, isExpired } from './backoff.js';
import { systemClock, type Clock } from './clock.js';
import { filterRoute, parseFilter } from './content-filter.js';
import { Destination, type Batch } from './destination.js';
import { expiredLine, forceExpiredLine, recipientLogLine, removedLine } from './log-lines.js';
import { noticeRcpt } from './notice-recipient.js';
import { qmgrSettings, type QmgrSettings } from './settings.js';
import { settleVerify } from './verify-report.js';

export interface QmgrOptions {
  readonly config: ParamReader;
  readonly store: QueueStore;
  readonly resolve: (addr: string, sender: string) => Promise<ResolveResult>;
  /** The agent serving a master.cf transport name, or undefined when there is none. */
  readonly agentFor: (transport: string) => DeliveryAgent | undefined;
  readonly bounce: BounceService;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** master.cf maxproc per transport; default_process_limit otherwise. */
  readonly maxproc?: (transport: string) => number | undefined;
}

interface ActiveMessage {
  readonly msg: QueuedMessage;
  readonly enteredActive: number;
  /** The stored recipients by index (messages may have thousands). */
  readonly byIndex: ReadonlyMap<number, StoredRecipient>;
  batchesLeft: number;
  /** This round's final outcome per recipient index. */
  readonly outcomes: Map<number, { rcpt: StoredRecipient; outcome: RecipientOutcome }>;
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
  /**
   * Per transport, the destinations with batches waiting, in round-robin
   * order: the only ones a scheduling pass looks at, so a pass costs the
   * free delivery slots, not the number of destinations.
   */
  private readonly ready = new Map<string, Set<Destination>>();
  private readonly busy = new Map<string, number>();
  private activeRecipients = 0;
  private tasks = 0;
  private idleWaiters: (() => void)[] = [];
  private cancelScan: (() => void) | undefined;
  private unlisten: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly o: QmgrOptions) {
    this.s = qmgrSettings(o.config, o.maxproc);
    this.clock = o.clock ?? systemClock;
    this.log = o.logger;
  }

  /** Restart recovery, then listen for new mail and scan deferred mail periodically. */
  async start(): Promise<void> {
    // Listen first: mail committed while recovery awaits must not slip through.
    this.unlisten = this.o.store.onCommitted((id) => this.enqueue(id));
    for (const m of [...this.o.store.list()]) {
      // Postfix's rule: whatever was active when we stopped is picked up again from the start.
      if (m.state === 'active') await this.o.store.setState(m.queueId, 'incoming');
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
    for (const d of this.destinations.values()) d.pending.length = 0;
    this.ready.clear();
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
      const am: ActiveMessage = {
        msg,
        enteredActive: this.clock.now(),
        byIndex: new Map(msg.recipients.map((r) => [r.index, r])),
        batchesLeft: 0,
        outcomes: new Map(),
      };
      this.active.set(id, am);
      this.activeRecipients += msg.recipients.length;
      this.track(`${id}: activate`, this.activateSafely(am));
    }
    const now = this.clock.now();
    for (const [transport, set] of this.ready) {
      const limit = this.s.processLimit(transport);
      const ahead = this.o.agentFor(transport)?.queuedAhead ?? 0;
      let visits = set.size;
      for (const d of set) {
        if (visits-- <= 0 || (this.busy.get(transport) ?? 0) >= limit) break;
        while (d.canStart(now, ahead) && (this.busy.get(transport) ?? 0) < limit) {
          const batch = d.pending.shift() as Batch;
          d.inflight++;
          this.busy.set(transport, (this.busy.get(transport) ?? 0) + 1);
          this.track(`${batch.queueId}: deliver`, this.deliver(d, batch));
        }
        set.delete(d);
        // Still has work: to the back of the line, so every destination gets its turn.
        if (d.pending.length > 0) set.add(d);
      }
      if (set.size === 0) this.ready.delete(transport);
    }
  }

  private markReady(d: Destination): void {
    let set = this.ready.get(d.transport);
    if (!set) this.ready.set(d.transport, (set = new Set()));
    set.add(d);
  }

  /** Forget a destination that has nothing queued, nothing in flight and no suspension to remember. */
  private forgetIfIdle(d: Destination): void {
    if (d.pending.length === 0 && d.inflight === 0 && d.deadUntil === undefined) this.destinations.delete(d.key);
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
      this.active.delete(am.msg.queueId);
      this.activeRecipients -= am.msg.recipients.length;
      const retry = this.clock.now() + this.s.retry.minBackoff * 1000;
      await this.o.store.setState(am.msg.queueId, 'deferred', { nextAttempt: retry }).catch(() => undefined);
    }
  }

  private async activate(am: ActiveMessage): Promise<void> {
    const { msg } = am;
    await this.o.store.setState(msg.queueId, 'active');
    // The store logs `from=<...>, size=..., nrcpt=... (queue active)` as the state changes.
    const todo = msg.recipients.filter((r) => !r.done);
    if (msg.expired) {
      // postsuper -e/-f: returned without an attempt, stating the last delay's reason if there was one.
      this.log.info(forceExpiredLine(msg.queueId, msg.sender));
      for (const r of todo) {
        this.immediate(am, r, 'bounced', '4.7.0', r.lastReason ?? 'message is administratively expired');
      }
      await this.finish(am);
      return;
    }
    const filter = msg.filter !== undefined ? parseFilter(msg.filter) : undefined;
    if (msg.filter !== undefined && !filter) {
      this.log.warning(`${msg.queueId}: ignoring bad content filter request: ${msg.filter}`);
    }
    const groups = new Map<string, { transport: string; nexthop: string; rcpts: DeliveryRecipient[] }>();
    for (const r of todo) {
      let res: ResolveResult;
      try {
        res = await this.o.resolve(r.address, msg.sender);
      } catch (e) {
        this.immediate(am, r, 'deferred', '4.3.0', `address resolver failure: ${(e as Error).message}`);
        continue;
      }
      if (res.flags.fail) {
        this.immediate(am, r, 'deferred', '4.3.0', 'address resolver failure');
        continue;
      }
      if (res.flags.error) {
        // Malformed (bad domain syntax, bare IP address): no agent could do better.
        this.immediate(am, r, 'bounced', '5.1.3', 'bad address syntax');
        continue;
      }
      if (filter) {
        // The content filter gets every recipient, whatever its address class (the filter's copy comes back unfiltered).
        res = { ...res, ...filterRoute(filter, r.address, this.s.defaultFilterNexthop), recipient: r.address };
      }
      if (this.s.deferTransports.has(res.transport)) {
        this.immediate(am, r, 'deferred', '4.3.2', 'deferred transport');
        continue;
      }
      if (!this.o.agentFor(res.transport)) {
        this.immediate(am, r, 'deferred', '4.3.0', `mail transport unavailable`);
        continue;
      }
      // With a recipient limit of 1 (local), each recipient is its own destination, as in Postfix.
      const perRcpt = this.s.destinationRecipientLimit(res.transport) === 1;
      const key = `${res.transport}\0${res.nexthop}${perRcpt ? `\0${res.recipient.toLowerCase()}` : ''}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { transport: res.transport, nexthop: res.nexthop, rcpts: [] }));
      g.rcpts.push({
        address: res.recipient,
        original: r.original,
        index: r.index,
        ...(r.orcpt !== undefined ? { orcpt: r.orcpt } : {}),
        ...(r.notify !== undefined ? { notify: r.notify } : {}),
      });
    }
    const now = this.clock.now();
    for (const [key, g] of groups) {
      let d = this.destinations.get(key);
      if (!d) {
        d = new Destination(key, g.transport, g.nexthop, this.s.concurrency(g.transport));
        this.destinations.set(key, d);
      }
      if (d.isDead(now)) {
        const f = d.lastFailure;
        for (const r of g.rcpts) {
          const rcpt = am.byIndex.get(r.index) as StoredRecipient;
          this.immediate(
            am,
            rcpt,
            'deferred',
            f?.dsn ?? '4.4.1',
            `${SUSPENDED}: ${f?.reason ?? 'destination unavailable'}`,
          );
        }
        continue;
      }
      const limit = this.s.destinationRecipientLimit(g.transport);
      for (let i = 0; i < g.rcpts.length; i += limit) {
        this.markReady(d);
        d.pending.push({
          queueId: msg.queueId,
          transport: g.transport,
          nexthop: g.nexthop,
          recipients: g.rcpts.slice(i, i + limit),
        });
        am.batchesLeft++;
      }
    }
    // Deferrals decided here are made durable too; the extra count keeps a
    // fast agent from finishing the message while that write is pending.
    // (Bounces are recorded in finish, once their notice is queued.)
    const decided = [...am.outcomes.values()].map((x) => x.outcome).filter((o) => o.status !== 'bounced');
    am.batchesLeft++;
    try {
      if (decided.length > 0) await this.o.store.recordOutcomes(msg.queueId, decided);
    } finally {
      am.batchesLeft--;
    }
    if (am.batchesLeft === 0) await this.finish(am);
  }

  /** An outcome decided by qmgr itself (no agent ran): logged as qmgr's own. */
  private immediate(
    am: ActiveMessage,
    rcpt: StoredRecipient,
    status: 'deferred' | 'bounced',
    dsn: string,
    reason: string,
  ): void {
    const outcome: RecipientOutcome = { index: rcpt.index, status, dsn, relay: 'none', reason };
    am.outcomes.set(rcpt.index, { rcpt, outcome });
    this.logOutcome(this.log, am, rcpt, outcome, this.clock.now(), this.clock.now());
  }

  private logOutcome(
    log: Logger,
    am: ActiveMessage,
    rcpt: { address: string; original: string },
    o: RecipientOutcome,
    started: number,
    ended: number,
  ): void {
    const a = (am.enteredActive - am.msg.arrivalTime) / 1000;
    const b = (started - am.enteredActive) / 1000;
    const d = (ended - started) / 1000;
    const total = (ended - am.msg.arrivalTime) / 1000;
    log.info(
      recipientLogLine(
        am.msg.queueId,
        rcpt,
        o,
        total,
        { beforeActive: a, inActive: b, setup: 0, transmission: d },
        this.s.delayResolution,
        am.msg.verifyOnly === true,
      ),
    );
  }

  private async deliver(d: Destination, batch: Batch): Promise<void> {
    const am = this.active.get(batch.queueId);
    const agent = this.o.agentFor(batch.transport);
    // The destination's slot is free once the agent has answered, as in Postfix: the
    // queue file updates that follow must not hold up the destination's next delivery.
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      d.inflight--;
      const resume = d.pauseAfterDelivery(this.clock.now());
      // The destination_rate_delay pause ends on a timer, which starts the next delivery.
      if (resume !== undefined && d.pending.length > 0)
        this.clock.setTimer(resume - this.clock.now(), () => this.pump());
      this.forgetIfIdle(d);
      this.busy.set(batch.transport, (this.busy.get(batch.transport) ?? 1) - 1);
      this.pump();
    };
    try {
      if (!am || !agent) return;
      const msg = am.msg;
      const started = this.clock.now();
      let outcomes: RecipientOutcome[];
      try {
        outcomes = await agent.deliver({
          queueId: msg.queueId,
          transport: batch.transport,
          nexthop: batch.nexthop,
          sender: msg.sender,
          recipients: batch.recipients,
          arrivalTime: msg.arrivalTime,
          size: msg.size,
          openContent: () => this.o.store.openContent(msg.queueId),
          ...(msg.envid !== undefined ? { envid: msg.envid } : {}),
          ...(msg.ret !== undefined ? { ret: msg.ret } : {}),
          ...(msg.body !== undefined ? { body: msg.body } : {}),
          ...(msg.smtputf8 !== undefined ? { smtputf8: msg.smtputf8 } : {}),
          // Only what DeliveryRequest carries: the delivery channel refuses unknown client fields.
          ...(msg.client !== undefined
            ? { client: { name: msg.client.name, addr: msg.client.addr, helo: msg.client.helo } }
            : {}),
          ...(msg.verifyOnly === true ? { verifyOnly: true } : {}),
        });
      } catch (e) {
        this.log.warning(`${msg.queueId}: ${batch.transport} delivery agent failed: ${(e as Error).message}`);
        outcomes = [];
      }
      const ended = this.clock.now();
      const byIndex = new Map(outcomes.map((o) => [o.index, o]));
      const agentLog = this.log.child(agent.command);
      const complete: RecipientOutcome[] = batch.recipients.map(
        (r) =>
          byIndex.get(r.index) ?? {
            index: r.index,
            status: 'deferred',
            dsn: '4.3.0',
            relay: 'none',
            reason: 'unknown mail transport error',
          },
      );
      for (const [i, o] of complete.entries()) {
        const r = batch.recipients[i] as DeliveryRecipient;
        this.logOutcome(agentLog, am, r, o, started, ended);
        const stored = am.byIndex.get(r.index) as StoredRecipient;
        am.outcomes.set(r.index, { rcpt: { ...stored, address: r.address }, outcome: o });
      }
      // Connection-level failure: every recipient deferred without reaching a server.
      const siteFailure = complete.every((o) => o.status === 'deferred' && o.relay === 'none');
      if (!siteFailure) d.success();
      else {
        const first = complete[0] as RecipientOutcome;
        if (d.failure(first.dsn, first.reason, ended, this.s.retry.minBackoff * 1000)) this.suspend(d);
      }
      release();
      // Bounced recipients are recorded only once their notice is queued (in finish), so none is lost.
      // A message deleted meanwhile (postsuper -d) has nothing left to record.
      if (this.o.store.get(msg.queueId))
        await this.o.store.recordOutcomes(
          msg.queueId,
          complete.filter((o) => o.status !== 'bounced'),
        );
    } finally {
      release();
      if (am) {
        am.batchesLeft--;
        if (am.batchesLeft === 0) await this.finish(am);
      }
    }
  }

  /** A dead destination: its waiting batches are deferred at once instead of trying each. */
  private suspend(d: Destination): void {
    const f = d.lastFailure;
    const batches = d.pending.splice(0);
    for (const batch of batches) {
      const am = this.active.get(batch.queueId);
      if (!am) continue;
      const outcomes: RecipientOutcome[] = [];
      for (const r of batch.recipients) {
        const stored = am.byIndex.get(r.index) as StoredRecipient;
        const reason = `${SUSPENDED}: ${f?.reason ?? 'destination unavailable'}`;
        const o: RecipientOutcome = {
          index: r.index,
          status: 'deferred',
          dsn: f?.dsn ?? '4.4.1',
          relay: 'none',
          reason,
        };
        outcomes.push(o);
        am.outcomes.set(r.index, { rcpt: { ...stored, address: r.address }, outcome: o });
        this.logOutcome(this.log, am, r, o, this.clock.now(), this.clock.now());
      }
      am.batchesLeft--;
      this.track(
        `${batch.queueId}: suspend`,
        this.o.store
          .recordOutcomes(batch.queueId, outcomes)
          .then(() => (am.batchesLeft === 0 ? this.finish(am) : undefined)),
      );
    }
  }

  /** All batches are back: notices, then deferred with backoff, or removed. */
  private async finish(am: ActiveMessage): Promise<void> {
    const { msg } = am;
    const now = this.clock.now();
    if (!this.o.store.get(msg.queueId)) {
      // Deleted while active (postsuper -d): nothing left to update.
      this.active.delete(msg.queueId);
      this.activeRecipients -= msg.recipients.length;
      return;
    }
    const results = [...am.outcomes.values()];
    if (msg.verifyOnly === true) {
      await this.finishVerify(am, results);
      return;
    }
    const bounced = results.filter((x) => x.outcome.status === 'bounced');
    let deferred = results.filter((x) => x.outcome.status === 'deferred');
    const sent = results.filter((x) => x.outcome.status === 'sent');
    try {
      if (deferred.length > 0 && isExpired(this.s.retry, msg.sender, msg.arrivalTime, now)) {
        this.log.info(expiredLine(msg.queueId, msg.sender));
        for (const x of deferred) bounced.push({ rcpt: x.rcpt, outcome: { ...x.outcome, status: 'bounced' } });
        deferred = [];
      }
      if (bounced.length > 0) {
        await this.o.bounce.notify({
          kind: 'bounce',
          message: this.noticeMessage(msg),
          recipients: bounced.map(noticeRcpt('failed')),
        });
        await this.o.store.recordOutcomes(
          msg.queueId,
          bounced.map((x) => x.outcome),
        );
      }
      // A DSN-capable next hop was given NOTIFY and reports success itself; for one
      // without DSN the notice says "relayed", as Postfix's does.
      const wantSuccess = sent.filter(
        (x) => x.rcpt.notify?.includes('SUCCESS') && x.outcome.dsnSuccess !== 'passed-on',
      );
      if (wantSuccess.length > 0) {
        await this.o.bounce.notify({
          kind: 'success',
          message: this.noticeMessage(msg),
          recipients: wantSuccess.map((x) =>
            noticeRcpt(x.outcome.dsnSuccess === 'relayed' ? 'relayed' : 'delivered')(x),
          ),
        });
      }
      const stillOpen = msg.recipients.some((r) => !r.done && !am.outcomes.has(r.index));
      if (deferred.length > 0 || stillOpen) {
        let warned = msg.warned ?? false;
        if (deferred.length > 0 && delayWarningDue(this.s.retry, msg.arrivalTime, now, warned)) {
          await this.o.bounce.notify({
            kind: 'delay',
            message: this.noticeMessage(msg),
            recipients: deferred.map(noticeRcpt('delayed')),
          });
          warned = true;
        }
        const nextAttempt = now + backoffDelay(this.s.retry, msg.arrivalTime, now);
        // Put on hold while we were delivering (postsuper -h): it stays held.
        const held = this.o.store.get(msg.queueId)?.state === 'hold';
        await this.o.store.setState(msg.queueId, held ? 'hold' : 'deferred', { nextAttempt, warned });
      } else {
        await this.o.store.remove(msg.queueId);
        this.log.info(removedLine(msg.queueId));
      }
    } catch (e) {
      // Leave the message for the next run; its durable state says what is still to do.
      this.log.warning(`${msg.queueId}: cannot complete queue file update: ${(e as Error).message}`);
      await this.o.store
        .setState(msg.queueId, 'deferred', { nextAttempt: now + this.s.retry.minBackoff * 1000 })
        .catch(() => undefined);
    } finally {
      this.active.delete(msg.queueId);
      this.activeRecipients -= msg.recipients.length;
    }
  }

  /** sendmail -bv: the report instead of delivery (see verify-report.ts); a failure retries the whole message. */
  private async finishVerify(
    am: ActiveMessage,
    results: { rcpt: StoredRecipient; outcome: RecipientOutcome }[],
  ): Promise<void> {
    const { msg } = am;
    const retryAt = (): number => this.clock.now() + this.s.retry.minBackoff * 1000;
    try {
      await settleVerify(
        { store: this.o.store, bounce: this.o.bounce, log: this.log, retryAt },
        msg,
        this.noticeMessage(msg),
        results,
        (index) => am.outcomes.has(index),
      );
    } catch (e) {
      this.log.warning(`${msg.queueId}: cannot complete queue file update: ${(e as Error).message}`);
      await this.o.store.setState(msg.queueId, 'deferred', { nextAttempt: retryAt() }).catch(() => undefined);
    } finally {
      this.active.delete(msg.queueId);
      this.activeRecipients -= msg.recipients.length;
    }
  }

  private noticeMessage(msg: QueuedMessage): import('../bounce/bounce.js').NoticeMessage {
    return {
      queueId: msg.queueId,
      sender: msg.sender,
      arrivalTime: msg.arrivalTime,
      size: msg.size,
      openContent: () => this.o.store.openContent(msg.queueId),
      ...(msg.envid !== undefined ? { envid: msg.envid } : {}),
      ...(msg.ret !== undefined ? { ret: msg.ret } : {}),
      ...(msg.body !== undefined ? { body: msg.body } : {}),
      ...(msg.smtputf8 !== undefined ? { smtputf8: msg.smtputf8 } : {}),
    };
  }
}
