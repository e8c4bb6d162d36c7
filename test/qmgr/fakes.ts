// Test doubles around qmgr: a controllable clock, scripted delivery agents
// that record what they were asked, and a CleanupService that keeps the
// notices bounce(8) injects.
import type { Clock } from '../../src/daemons/qmgr/clock.js';
import type {
  CleanupOpenRequest,
  CleanupService,
  CleanupTransaction,
  EnvelopeRecipient,
} from '../../src/global/queue/cleanup-api.js';
import type { DeliveryAgent, DeliveryRequest, RecipientOutcome } from '../../src/global/queue/delivery-api.js';

export class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private seq = 0;
  constructor(public t = Date.UTC(2026, 0, 15, 12, 0, 0)) {}
  now(): number {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): () => void {
    const id = this.seq++;
    this.timers.push({ at: this.t + ms, fn, id });
    return () => {
      this.timers = this.timers.filter((x) => x.id !== id);
    };
  }
  /** Move time forward, firing due timers in order (bounded). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let i = 0; i < 10_000; i++) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

export type Script = (
  req: DeliveryRequest,
  rcpt: DeliveryRequest['recipients'][number],
) => Omit<RecipientOutcome, 'index'>;

export const sent: Script = (req) => ({
  status: 'sent',
  dsn: '2.0.0',
  relay: `${req.nexthop}[192.0.2.1]:25`,
  reason: '250 2.0.0 Ok: queued as X',
});

/** An agent answering from a script; `gate` lets a test hold deliveries open to observe concurrency. */
export class ScriptedAgent implements DeliveryAgent {
  readonly requests: DeliveryRequest[] = [];
  inflight = 0;
  maxInflight = 0;
  private gateOpen = true;
  private waiters: (() => void)[] = [];
  constructor(
    readonly command: string,
    public script: Script = sent,
  ) {}
  hold(): void {
    this.gateOpen = false;
  }
  release(): void {
    this.gateOpen = true;
    const w = this.waiters.splice(0);
    for (const f of w) f();
  }
  async deliver(req: DeliveryRequest): Promise<RecipientOutcome[]> {
    this.requests.push(req);
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    try {
      if (!this.gateOpen) await new Promise<void>((r) => this.waiters.push(r));
      return req.recipients.map((r) => ({ index: r.index, ...this.script(req, r) }));
    } finally {
      this.inflight--;
    }
  }
}

export interface Injected {
  readonly req: CleanupOpenRequest;
  readonly recipients: EnvelopeRecipient[];
  readonly queueId: string;
  content: string;
}

export class CapturingCleanup implements CleanupService {
  readonly injected: Injected[] = [];
  private seq = 0;
  open(req: CleanupOpenRequest): Promise<CleanupTransaction> {
    const entry: Injected = {
      req,
      recipients: [],
      queueId: `B${(this.seq++).toString(16).toUpperCase()}`,
      content: '',
    };
    const chunks: Buffer[] = [];
    return Promise.resolve({
      queueId: entry.queueId,
      addRecipient: (r) => entry.recipients.push(r),
      write: (b) => chunks.push(b),
      commit: () => {
        entry.content = Buffer.concat(chunks).toString('utf8');
        this.injected.push(entry);
        return Promise.resolve({ status: 'queued' as const, queueId: entry.queueId });
      },
      abort: () => Promise.resolve(),
    });
  }
}
