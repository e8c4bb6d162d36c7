// An in-memory QueueStore test double with the store-api.ts semantics:
// commit fires onCommitted, outcomes mark recipients done, remove forgets.
// It also counts calls so tests can assert what qmgr made durable.
import type { DsnNotify } from '../../src/global/queue/cleanup-api.js';
import type { RecipientOutcome } from '../../src/global/queue/delivery-api.js';
import type { QueuedMessage, QueueState, QueueStore, StoredRecipient } from '../../src/global/queue/store-api.js';

export interface NewMessage {
  sender: string;
  recipients: (string | { address: string; original?: string; notify?: DsnNotify[]; orcpt?: string })[];
  content?: string;
  arrivalTime?: number;
  state?: QueueState;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  warned?: boolean;
  nextAttempt?: number;
  filter?: string;
  verifyOnly?: boolean;
  verifyProbe?: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class MemoryStore implements QueueStore {
  readonly messages = new Map<string, Mutable<QueuedMessage>>();
  readonly contents = new Map<string, Buffer>();
  readonly listeners: ((id: string) => void)[] = [];
  readonly removed: string[] = [];
  readonly stateLog: { id: string; state: QueueState; nextAttempt?: number }[] = [];
  private seq = 0;

  constructor(private readonly now: () => number) {}

  /** Store a message the way cleanup would and announce it unless it is held or pre-staged. */
  add(m: NewMessage, announce = true): string {
    const id = `${(0x1000 + this.seq++).toString(16).toUpperCase()}A`;
    const content = m.content ?? 'Subject: test\r\nFrom: <' + m.sender + '>\r\n\r\nbody\r\n';
    const recipients: StoredRecipient[] = m.recipients.map((r, index) => {
      const o = typeof r === 'string' ? { address: r } : r;
      return {
        index,
        address: o.address,
        original: o.original ?? o.address,
        done: false,
        ...(o.notify ? { notify: o.notify } : {}),
        ...(o.orcpt ? { orcpt: o.orcpt } : {}),
      };
    });
    this.messages.set(id, {
      queueId: id,
      state: m.state ?? 'incoming',
      arrivalTime: m.arrivalTime ?? this.now(),
      sender: m.sender,
      recipients,
      size: Buffer.byteLength(content),
      ...(m.ret ? { ret: m.ret } : {}),
      ...(m.envid ? { envid: m.envid } : {}),
      ...(m.warned !== undefined ? { warned: m.warned } : {}),
      ...(m.nextAttempt !== undefined ? { nextAttempt: m.nextAttempt } : {}),
      ...(m.filter !== undefined ? { filter: m.filter } : {}),
      ...(m.verifyOnly === true ? { verifyOnly: true } : {}),
      ...(m.verifyProbe === true ? { verifyOnly: true, verifyProbe: true } : {}),
    });
    this.contents.set(id, Buffer.from(content));
    if (announce && (m.state ?? 'incoming') === 'incoming') for (const l of this.listeners) l(id);
    return id;
  }

  list(): Iterable<QueuedMessage> {
    return [...this.messages.values()];
  }
  get(queueId: string): QueuedMessage | undefined {
    return this.messages.get(queueId);
  }
  async *openContent(queueId: string): AsyncIterable<Buffer> {
    const c = this.contents.get(queueId);
    if (!c) throw new Error(`${queueId}: no such message`);
    await Promise.resolve();
    // Two chunks, so readers must cope with content split mid-line.
    const mid = Math.floor(c.length / 2);
    yield c.subarray(0, mid);
    yield c.subarray(mid);
  }
  onCommitted(listener: (queueId: string) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
  setState(
    queueId: string,
    state: QueueState,
    opts?: { nextAttempt?: number; warned?: boolean; expired?: boolean },
  ): Promise<void> {
    const m = this.messages.get(queueId);
    if (!m) return Promise.reject(new Error(`${queueId}: no such message`));
    m.state = state;
    if (opts?.nextAttempt !== undefined) m.nextAttempt = opts.nextAttempt;
    if (opts?.warned !== undefined) m.warned = opts.warned;
    if (opts?.expired !== undefined) m.expired = opts.expired;
    this.stateLog.push({
      id: queueId,
      state,
      ...(opts?.nextAttempt !== undefined ? { nextAttempt: opts.nextAttempt } : {}),
    });
    return Promise.resolve();
  }
  recordOutcomes(queueId: string, outcomes: readonly RecipientOutcome[]): Promise<void> {
    const m = this.messages.get(queueId);
    if (!m) return Promise.reject(new Error(`${queueId}: no such message`));
    m.recipients = m.recipients.map((r) => {
      const o = outcomes.find((x) => x.index === r.index);
      if (!o) return r;
      return o.status === 'deferred' ? { ...r, lastReason: o.reason } : { ...r, done: true };
    });
    return Promise.resolve();
  }
  remove(queueId: string): Promise<void> {
    this.messages.delete(queueId);
    this.contents.delete(queueId);
    this.removed.push(queueId);
    return Promise.resolve();
  }
}
