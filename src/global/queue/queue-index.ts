// The in-memory index of live messages that the segment files describe: for
// each queue ID its current envelope (state, per-recipient progress) and where
// its content lies on disk, plus per-segment bookkeeping that tells the store
// when a segment holds no live message any more. Replay and the running store
// feed it the same record stream, so what start-up rebuilds is exactly what
// was acknowledged before. Content never lives here, only its location.
import type { DecodedRecord, EnvelopeImage, OutcomeImage, RecipientImage, StateImage } from './record-format.js';
import { RecordType } from './record-format.js';
import type { QueuedMessage, StoredRecipient } from './store-api.js';

export interface IndexEntry {
  env: EnvelopeImage;
  segment: number;
  /** File offset of the first content byte in `segment`. */
  contentOffset: number;
  size: number;
  view?: QueuedMessage;
}

export interface SegmentInfo {
  readonly live: Set<string>;
  /** Approximate bytes of live message records (content + envelope). */
  liveBytes: number;
  /** Size of the file. */
  bytes: number;
}

/** Rough on-disk cost of a message record, for compaction decisions. */
function recordCost(e: IndexEntry): number {
  return e.size + 256 + 128 * e.env.recipients.length;
}

export class QueueIndex {
  readonly entries = new Map<string, IndexEntry>();
  readonly segments = new Map<number, SegmentInfo>();

  segmentInfo(n: number): SegmentInfo {
    let s = this.segments.get(n);
    if (!s) {
      s = { live: new Set(), liveBytes: 0, bytes: 0 };
      this.segments.set(n, s);
    }
    return s;
  }

  /** A (new or relocated) MESSAGE record became durable at this location. */
  placeMessage(env: EnvelopeImage, segment: number, contentOffset: number, size: number): void {
    const prev = this.entries.get(env.id);
    if (prev) this.unplace(prev);
    const entry: IndexEntry = { env, segment, contentOffset, size };
    this.entries.set(env.id, entry);
    const s = this.segmentInfo(segment);
    s.live.add(env.id);
    s.liveBytes += recordCost(entry);
  }

  private unplace(e: IndexEntry): void {
    const s = this.segments.get(e.segment);
    if (s?.live.delete(e.env.id)) s.liveBytes -= recordCost(e);
  }

  applyState(s: StateImage): boolean {
    const e = this.entries.get(s.id);
    if (!e) return false;
    e.env.state = s.state;
    if (s.nextAttempt !== undefined) e.env.nextAttempt = s.nextAttempt;
    else if (s.state !== 'deferred') delete e.env.nextAttempt;
    if (s.warned !== undefined) e.env.warned = s.warned;
    if (s.expired !== undefined) e.env.expired = s.expired;
    e.view = undefined;
    return true;
  }

  applyOutcomes(id: string, outcomes: readonly OutcomeImage[]): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    for (const o of outcomes) {
      const r = e.env.recipients[o.index];
      if (!r) continue;
      if (o.status === 'deferred') r.lastReason = o.reason;
      else {
        r.done = true;
        delete r.lastReason;
      }
    }
    e.view = undefined;
    return true;
  }

  remove(id: string): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    this.unplace(e);
    this.entries.delete(id);
    return true;
  }

  /** Replay: apply one record read back from a segment. */
  apply(rec: DecodedRecord, segment: number): void {
    switch (rec.type) {
      case RecordType.Message:
        this.placeMessage(rec.envelope, segment, rec.contentStart, rec.contentLength);
        break;
      case RecordType.State:
        this.applyState(rec.state);
        break;
      case RecordType.Outcomes:
        this.applyOutcomes(rec.id, rec.outcomes);
        break;
      case RecordType.Delete:
        this.remove(rec.id);
        break;
    }
  }

  view(id: string): QueuedMessage | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    e.view ??= toView(e);
    return e.view;
  }
}

function toRecipient(r: RecipientImage, index: number): StoredRecipient {
  const out: { -readonly [K in keyof StoredRecipient]: StoredRecipient[K] } = {
    index,
    address: r.address,
    original: r.original,
    done: r.done === true,
  };
  if (r.orcpt !== undefined) out.orcpt = r.orcpt;
  if (r.notify !== undefined) out.notify = [...r.notify];
  if (r.lastReason !== undefined) out.lastReason = r.lastReason;
  return out;
}

/** An immutable snapshot for qmgr and the tools; rebuilt after each change. */
function toView(e: IndexEntry): QueuedMessage {
  const env = e.env;
  const v: { -readonly [K in keyof QueuedMessage]: QueuedMessage[K] } = {
    queueId: env.id,
    state: env.state,
    arrivalTime: env.arrivalTime,
    sender: env.sender,
    recipients: env.recipients.map(toRecipient),
    size: e.size,
  };
  if (env.envid !== undefined) v.envid = env.envid;
  if (env.ret !== undefined) v.ret = env.ret;
  if (env.body !== undefined) v.body = env.body;
  if (env.smtputf8 !== undefined) v.smtputf8 = env.smtputf8;
  if (env.nextAttempt !== undefined) v.nextAttempt = env.nextAttempt;
  if (env.warned !== undefined) v.warned = env.warned;
  if (env.expired !== undefined) v.expired = env.expired;
  if (env.client !== undefined) v.client = { ...env.client };
  if (env.filter !== undefined) v.filter = env.filter;
  if (env.verifyOnly !== undefined) v.verifyOnly = env.verifyOnly;
  if (env.verifyProbe !== undefined) v.verifyProbe = env.verifyProbe;
  return Object.freeze(v);
}
