// The durable queue store (Postfix's incoming/active/deferred/hold/corrupt
// queue directories, kept as record states in append-only segment files; see
// docs/ARCHITECTURE.md "The queue on disk"). cleanup enqueues through it;
// qmgr, bounce and the queue tools read and update it through QueueStore.
// Every mutation resolves only after its record is synced (group commit in
// SegmentWriter); the in-memory index changes only after that, so nothing a
// caller can observe is ever lost by a crash. The exception is qmgr's lazy
// bookkeeping (WriteMode in store-api.ts): written in order, synced with the
// next durable write; a crash can only make such a message be tried again.
//
// Touches: $queue_directory/segments/ (segment files, lock) and corrupt/.
import { mkdir, open, readdir, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import type { DsnNotify } from './cleanup-api.js';
import type { RecipientOutcome } from './delivery-api.js';
import { fsyncDir } from './fs-sync.js';
import { QueueIndex } from './queue-index.js';
import { QueueIdGenerator } from './queue-id.js';
import { QueueLock } from './queue-lock.js';
import { RecentContent } from './recent-content.js';
import {
  encodeDelete,
  encodeMessage,
  encodeOutcomes,
  encodeState,
  type EnvelopeImage,
  type StateImage,
} from './record-format.js';
import { replaySegment } from './segment-replay.js';
import { SegmentWriter, segmentFileName, type WriterStats } from './segment-writer.js';
import { QueueStorageError } from './storage-error.js';
import type { QueuedMessage, QueueState, QueueStore, WriteMode } from './store-api.js';
import { KeyedQueue } from '../../util/keyed-queue.js';

export interface SegmentStoreOptions {
  /** `$queue_directory`. */
  readonly queueDirectory: string;
  /** Logs recovery, damage and the `from=<...>, size=N, nrcpt=M (queue active)` line. */
  readonly logger: Logger;
  /** `enable_long_queue_ids`. */
  readonly longQueueIds?: boolean;
  /** `queue_minfree` in bytes: refuse new mail when free space would drop below it. */
  readonly minFree?: number;
  /** Start a new segment file once the current one reaches this size. */
  readonly segmentSize?: number;
}

export interface NewMessage {
  readonly queueId: string;
  /** `hold` when header checks said HOLD; otherwise `incoming`. */
  readonly state?: 'incoming' | 'hold';
  readonly arrivalTime: number;
  readonly sender: string;
  readonly recipients: readonly {
    readonly address: string;
    readonly original: string;
    readonly orcpt?: string;
    readonly notify?: readonly DsnNotify[];
  }[];
  readonly envid?: string;
  readonly ret?: 'FULL' | 'HDRS';
  readonly body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  readonly smtputf8?: boolean;
  readonly client?: {
    readonly name: string;
    readonly addr: string;
    readonly helo: string;
    /** Client port and protocol name (XFORWARD PORT/PROTO when forwarded); older queue files lack them. */
    readonly port?: number;
    readonly protocol?: string;
  };
  /** header/body_checks FILTER: deliver through this `transport:nexthop` instead of normal routing. */
  readonly filter?: string;
  /** sendmail -bv: delivery agents only report what they would do. */
  readonly verifyOnly?: boolean;
  /** verify(8)'s probe (with verifyOnly): results go to the verify service. */
  readonly verifyProbe?: boolean;
}

export interface StoreStats extends WriterStats {
  readonly messages: number;
  readonly segments: number;
}

const SEGMENT_NAME = /^\d{8}$/;
const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;
/** Compact when this many closed segments pile up behind a long-lived message. */
const MAX_CLOSED_SEGMENTS = 4;
const READ_CHUNK = 64 * 1024;

/** Addresses in log lines: control characters escaped, length bounded. */
function logSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.slice(0, 500).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export class SegmentStore implements QueueStore {
  private readonly index = new QueueIndex();
  private readonly ids: QueueIdGenerator;
  private readonly reserved = new Set<string>();
  private readonly listeners: ((queueId: string) => void)[] = [];
  private readonly locks = new KeyedQueue();
  private readonly recent = new RecentContent();
  private maintenance: Promise<void> = Promise.resolve();
  private closing = false;
  private writer!: SegmentWriter;
  private lock!: QueueLock;
  private freeCheckedAt = 0;
  private freeBytes = Number.POSITIVE_INFINITY;
  private readonly segDir: string;
  private readonly corruptDir: string;
  private readonly log: Logger;

  private constructor(private readonly opts: SegmentStoreOptions) {
    this.segDir = join(opts.queueDirectory, 'segments');
    this.corruptDir = join(opts.queueDirectory, 'corrupt');
    this.log = opts.logger;
    this.ids = new QueueIdGenerator(opts.longQueueIds === true);
  }

  /** Lock the store, replay every segment and start a new one for this run. */
  static async open(opts: SegmentStoreOptions): Promise<SegmentStore> {
    const s = new SegmentStore(opts);
    await mkdir(s.segDir, { recursive: true, mode: 0o700 });
    await mkdir(s.corruptDir, { recursive: true, mode: 0o700 });
    s.lock = await QueueLock.acquire(s.segDir);
    try {
      await s.recover();
    } catch (err) {
      await s.lock.release();
      throw err;
    }
    return s;
  }

  private async recover(): Promise<void> {
    const names = (await readdir(this.segDir)).filter((n) => SEGMENT_NAME.test(n)).sort();
    let last = 0;
    for (const name of names) {
      const n = Number.parseInt(name, 10);
      last = Math.max(last, n);
      const info = this.index.segmentInfo(n);
      const r = await replaySegment(this.segDir, n, this.corruptDir, this.log, (rec) => this.index.apply(rec, n));
      info.bytes = r.size;
    }
    // Postfix's rule: whatever was active when the system stopped starts over from incoming.
    const returned: string[] = [];
    for (const [id, e] of this.index.entries) if (e.env.state === 'active') returned.push(id);
    if (names.length > 0) {
      this.log.info(
        `queue store: recovered ${this.index.entries.size} message(s) from ${names.length} segment(s)` +
          (returned.length > 0 ? `, ${returned.length} returned from active to incoming` : ''),
      );
    }
    this.writer = new SegmentWriter(this.segDir, last, this.opts.segmentSize ?? DEFAULT_SEGMENT_SIZE, (ev) => {
      if ('created' in ev) {
        // Known from creation on, so a segment holding only state records is reclaimed too.
        this.index.segmentInfo(ev.created);
        return;
      }
      this.index.segmentInfo(ev.closed).bytes = ev.closedSize;
      this.scheduleReclaim();
    });
    this.scheduleReclaim();
    await this.returnToIncoming(returned);
  }

  /**
   * Make recovery's active → incoming durable, one batch for all, so the
   * queue tools reading the files see it too. If the write fails the change
   * still holds in memory; the next start simply does it again.
   */
  private async returnToIncoming(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const imgs: StateImage[] = ids.map((id) => ({ id, state: 'incoming' }));
    try {
      await this.writer.append(imgs.map(encodeState));
    } catch (err) {
      this.log.warning(`queue store: cannot record the return of active mail to incoming: ${(err as Error).message}`);
    }
    for (const img of imgs) this.index.applyState(img);
  }

  // ---- identifiers -------------------------------------------------------

  /** A queue ID not used by any live or in-flight message; release it with `releaseQueueId` on abort. */
  newQueueId(): string {
    for (;;) {
      const id = this.ids.next();
      if (!this.index.entries.has(id) && !this.reserved.has(id)) {
        this.reserved.add(id);
        return id;
      }
    }
  }

  releaseQueueId(id: string): void {
    this.reserved.delete(id);
  }

  // ---- writing new mail ----------------------------------------------------

  /** Bytes available to unprivileged writers, refreshed at most every 250 ms. */
  private async available(): Promise<number> {
    const now = Date.now();
    if (now - this.freeCheckedAt > 250) {
      const st = await statfs(this.segDir);
      this.freeBytes = Number(st.bavail) * Number(st.bsize);
      this.freeCheckedAt = now;
    }
    return this.freeBytes;
  }

  /** Whether `bytes` more would still leave `queue_minfree` free (smtpd's MAIL FROM check may call this). */
  async hasSpaceFor(bytes: number): Promise<boolean> {
    const minFree = this.opts.minFree ?? 0;
    return (await this.available()) - bytes >= minFree;
  }

  /**
   * Store a new message; resolves once envelope and content are on stable
   * storage. Rejects with QueueStorageError (nothing stored) otherwise.
   * `handOver`: the caller never changes `content` again, so the store may
   * keep those buffers for the first delivery instead of a copy.
   */
  async enqueue(msg: NewMessage, content: Buffer | readonly Buffer[], handOver = false): Promise<void> {
    const pieces = Buffer.isBuffer(content) ? [content] : content;
    let size = 0;
    for (const p of pieces) size += p.length;
    let inline: Buffer | undefined;
    try {
      if (this.index.entries.has(msg.queueId)) throw new Error(`queue file ${msg.queueId}: queue ID already in use`);
      if (!(await this.hasSpaceFor(size + 4096))) {
        throw new QueueStorageError('nospace', 'queue file system is below queue_minfree');
      }
      const env: EnvelopeImage = {
        id: msg.queueId,
        state: msg.state ?? 'incoming',
        arrivalTime: msg.arrivalTime,
        sender: msg.sender,
        recipients: msg.recipients.map((r) => {
          const img: EnvelopeImage['recipients'][number] = { address: r.address, original: r.original };
          if (r.orcpt !== undefined) img.orcpt = r.orcpt;
          if (r.notify !== undefined) img.notify = [...r.notify];
          return img;
        }),
      };
      if (msg.envid !== undefined) env.envid = msg.envid;
      if (msg.ret !== undefined) env.ret = msg.ret;
      if (msg.body !== undefined) env.body = msg.body;
      if (msg.smtputf8 !== undefined) env.smtputf8 = msg.smtputf8;
      if (msg.client !== undefined) env.client = { ...msg.client };
      if (msg.filter !== undefined) env.filter = msg.filter;
      if (msg.verifyOnly === true) env.verifyOnly = true;
      if (msg.verifyProbe === true) env.verifyProbe = true;
      inline = await this.appendMessage(env, pieces, size);
    } finally {
      this.reserved.delete(msg.queueId);
    }
    // Held mail waits for postsuper -H; only incoming mail is news for qmgr.
    if ((msg.state ?? 'incoming') !== 'incoming') return;
    // Small content was copied into the record: that copy is the store's own.
    if (inline) this.recent.put(msg.queueId, [inline], size, true);
    else this.recent.put(msg.queueId, pieces, size, handOver);
    for (const l of this.listeners) {
      try {
        l(msg.queueId);
      } catch (err) {
        this.log.warning(`queue store: onCommitted listener failed: ${String(err)}`);
      }
    }
  }

  /** Durably append a MESSAGE record; returns the content as one buffer when the record holds a copy of it. */
  private async appendMessage(
    env: EnvelopeImage,
    content: readonly Buffer[],
    size: number,
  ): Promise<Buffer | undefined> {
    const rec = encodeMessage(env, content);
    const r = await this.writer.append([rec.buffers]);
    this.index.placeMessage(env, r.segment, (r.offsets[0] ?? 0) + rec.contentStart, size);
    return rec.inline;
  }

  // ---- QueueStore ------------------------------------------------------------

  *list(): Iterable<QueuedMessage> {
    for (const id of [...this.index.entries.keys()]) {
      const v = this.index.view(id);
      if (v) yield v;
    }
  }

  get(queueId: string): QueuedMessage | undefined {
    return this.index.view(queueId);
  }

  onCommitted(listener: (queueId: string) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  async *openContent(queueId: string): AsyncIterable<Buffer> {
    const kept = this.index.entries.has(queueId) ? this.recent.get(queueId) : undefined;
    if (kept) {
      yield kept;
      return;
    }
    let fh;
    let loc;
    // A concurrent compaction may move the message and unlink the old
    // segment between lookup and open; look it up again once if so.
    for (let attempt = 0; ; attempt++) {
      const e = this.index.entries.get(queueId);
      if (!e) throw new Error(`queue file ${queueId}: no such message`);
      loc = { segment: e.segment, offset: e.contentOffset, size: e.size };
      try {
        fh = await open(join(this.segDir, segmentFileName(loc.segment)), 'r');
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw err;
      }
    }
    try {
      let pos = loc.offset;
      const end = loc.offset + loc.size;
      let carry: Buffer = Buffer.alloc(0);
      while (pos < end) {
        const want = Math.min(READ_CHUNK, end - pos);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, pos);
        if (bytesRead === 0) throw new Error(`queue file ${queueId}: content truncated`);
        pos += bytesRead;
        const chunk =
          carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
        // Hand out whole lines only; keep a partial last line for the next read.
        const cut = pos < end ? chunk.lastIndexOf(0x0a) + 1 : chunk.length;
        if (cut > 0) yield chunk.subarray(0, cut);
        carry = chunk.subarray(cut);
      }
      if (carry.length > 0) yield carry;
    } finally {
      await fh.close();
    }
  }

  /** Serialize every mutation of one message, so records reach disk in the order the index applies them. */
  private withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }

  private entry(queueId: string): NonNullable<ReturnType<QueueIndex['entries']['get']>> {
    const e = this.index.entries.get(queueId);
    if (!e) throw new Error(`queue file ${queueId}: no such message`);
    return e;
  }

  private write(groups: readonly (readonly Buffer[])[], mode: WriteMode | undefined): Promise<unknown> {
    return mode?.lazy === true ? this.writer.appendLazy(groups) : this.writer.append(groups);
  }

  setState(
    queueId: string,
    state: QueueState,
    opts?: { nextAttempt?: number; warned?: boolean; expired?: boolean } & WriteMode,
  ): Promise<void> {
    return this.withLock(queueId, async () => {
      const e = this.entry(queueId);
      const before = e.env.state;
      const img: StateImage = { id: queueId, state };
      if (opts?.nextAttempt !== undefined) img.nextAttempt = opts.nextAttempt;
      if (opts?.warned !== undefined) img.warned = opts.warned;
      if (opts?.expired !== undefined) img.expired = opts.expired;
      await this.write([encodeState(img)], opts);
      this.index.applyState(img);
      if (state === 'active' && before !== 'active') {
        // qmgr's line when a message enters the active queue, once per attempt.
        const pending = e.env.recipients.filter((r) => r.done !== true).length;
        this.log.info(`${queueId}: from=<${logSafe(e.env.sender)}>, size=${e.size}, nrcpt=${pending} (queue active)`);
      }
    });
  }

  recordOutcomes(queueId: string, outcomes: readonly RecipientOutcome[], mode?: WriteMode): Promise<void> {
    return this.withLock(queueId, async () => {
      const e = this.entry(queueId);
      const imgs = outcomes
        .filter((o) => o.index >= 0 && o.index < e.env.recipients.length)
        .map((o) => ({ index: o.index, status: o.status, dsn: o.dsn, reason: o.reason }));
      if (imgs.length === 0) return;
      await this.write([encodeOutcomes(queueId, imgs)], mode);
      this.index.applyOutcomes(queueId, imgs);
    });
  }

  remove(queueId: string, mode?: WriteMode): Promise<void> {
    return this.withLock(queueId, async () => {
      this.entry(queueId);
      await this.write([encodeDelete(queueId)], mode);
      this.index.remove(queueId);
      this.recent.drop(queueId);
      this.scheduleReclaim();
    });
  }

  // ---- space reclamation -------------------------------------------------------

  private scheduleReclaim(): void {
    this.maintenance = this.maintenance
      .then(() => this.reclaim())
      .catch((err: unknown) => this.log.warning(`queue store: segment cleanup failed: ${String(err)}`));
  }

  /**
   * Delete segments from the oldest end once nothing live remains in them.
   * Only the oldest may go: a later segment can hold the delete or outcome
   * records of messages stored in earlier ones. A long-lived message pinning
   * the oldest segment is re-appended (relocated) when the segment is mostly
   * dead or too many closed segments pile up behind it.
   */
  private async reclaim(): Promise<void> {
    while (!this.closing) {
      const numbers = [...this.index.segments.keys()].sort((a, b) => a - b);
      const oldest = numbers[0];
      if (oldest === undefined || oldest >= this.writer.segment) return;
      const info = this.index.segmentInfo(oldest);
      if (info.live.size === 0) {
        await unlink(join(this.segDir, segmentFileName(oldest))).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
        await fsyncDir(this.segDir);
        this.index.segments.delete(oldest);
        continue;
      }
      const closed = numbers.length - 1;
      if (info.liveBytes * 2 > info.bytes && closed < MAX_CLOSED_SEGMENTS) return;
      for (const id of [...info.live]) await this.relocate(id);
      if (info.live.size > 0) return;
    }
  }

  private relocate(id: string): Promise<void> {
    return this.withLock(id, async () => {
      const e = this.index.entries.get(id);
      if (!e) return;
      const parts: Buffer[] = [];
      for await (const chunk of this.openContent(id)) parts.push(chunk);
      const env = structuredClone(e.env);
      await this.appendMessage(env, parts, e.size);
    });
  }

  // ---- lifecycle -----------------------------------------------------------------

  stats(): StoreStats {
    return { ...this.writer.stats, messages: this.index.entries.size, segments: this.index.segments.size };
  }

  /** Finish pending writes and release the lock. */
  async close(): Promise<void> {
    this.closing = true;
    await this.maintenance.catch(() => undefined);
    await this.writer.close();
    await this.lock.release();
  }
}
