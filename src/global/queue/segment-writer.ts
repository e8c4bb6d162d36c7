// Group commit onto the current segment file. Callers hand in encoded
// records; the writer appends everything that is pending in one positional
// write, calls fdatasync once, and resolves every caller of that batch. While
// one sync runs, new appends queue up and form the next batch ("sync whatever
// is pending when the previous sync finishes"), so the number of syncs per
// message falls as concurrency rises, with no artificial delay.
//
// A lazy append (qmgr's bookkeeping: active, outcomes, deferred, removal)
// is written with the next batch but does not itself ask for a sync; the next
// durable batch's fdatasync, a segment switch or close covers it. Postfix
// does not sync these steps either: losing one in a crash can only make a
// message be tried again (at least once, never lost).
//
// A failed write or sync rejects the whole batch and truncates the file back
// to where the batch began, so no half-written record survives to be
// replayed; after a failed sync the segment is abandoned (the kernel may have
// dropped dirty pages) and the next batch starts a fresh one.
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { segmentHeader } from './record-format.js';
import { storageErrorFrom } from './storage-error.js';
import { fsyncDir } from './fs-sync.js';

export interface AppendResult {
  readonly segment: number;
  /** File offset of each appended buffer group's first byte, in order. */
  readonly offsets: readonly number[];
}

interface Pending {
  readonly groups: readonly (readonly Buffer[])[];
  readonly bytes: number;
  /** The caller waits for stable storage (false: written with the next batch, synced by a later one). */
  readonly durable: boolean;
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

export type SegmentEvent = { readonly closed: number; readonly closedSize: number } | { readonly created: number };

export interface WriterStats {
  syncs: number;
  batches: number;
  records: number;
  bytes: number;
}

export function segmentFileName(n: number): string {
  return n.toString().padStart(8, '0');
}

export class SegmentWriter {
  private fh: FileHandle | undefined;
  private size = 0;
  private pending: Pending[] = [];
  private flushing = false;
  private broken = false;
  private closed = false;
  /** Lazy records written to the open segment since its last sync. */
  private unsynced = false;
  readonly stats: WriterStats = { syncs: 0, batches: 0, records: 0, bytes: 0 };

  constructor(
    private readonly dir: string,
    /** The highest segment number already on disk (0 when none); this run appends after it. */
    private current: number,
    private readonly maxSize: number,
    /** Told when a segment is closed for appends (so the store may reclaim it later) and when one is created. */
    private readonly onRotate: (event: SegmentEvent) => void,
  ) {}

  get segment(): number {
    return this.current;
  }

  /**
   * Append record groups (each group = one record's buffers) and resolve once
   * they are on stable storage. Groups of one call stay contiguous and in order.
   */
  append(groups: readonly (readonly Buffer[])[]): Promise<AppendResult> {
    return this.enqueue(groups, true);
  }

  /**
   * Append without waiting for a sync of its own: resolves once written (in
   * order with every other append), and is on stable storage after the next
   * durable batch, segment switch or close.
   */
  appendLazy(groups: readonly (readonly Buffer[])[]): Promise<AppendResult> {
    return this.enqueue(groups, false);
  }

  private enqueue(groups: readonly (readonly Buffer[])[], durable: boolean): Promise<AppendResult> {
    if (this.closed) return Promise.reject(storageErrorFrom(new Error('queue store is closed'), 'append'));
    let bytes = 0;
    for (const g of groups) for (const b of g) bytes += b.length;
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ groups, bytes, durable, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        await this.writeBatch(batch);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    let start = this.size;
    try {
      // The first segment of a run is created with its first batch, so a
      // process that only reads the queue leaves no file behind; segments of
      // earlier runs are never appended to.
      if (!this.fh || this.broken || this.size >= this.maxSize) await this.rotate();
      start = this.size;
      const fh = this.fh;
      if (!fh) throw new Error('no open segment');
      const bufs: Buffer[] = [];
      const results: AppendResult[] = [];
      let pos = start;
      for (const p of batch) {
        const offsets: number[] = [];
        for (const g of p.groups) {
          offsets.push(pos);
          for (const b of g) {
            bufs.push(b);
            pos += b.length;
          }
        }
        results.push({ segment: this.current, offsets });
      }
      await writeFully(fh, bufs, start);
      if (batch.some((p) => p.durable)) {
        await fh.datasync();
        this.unsynced = false;
        this.stats.syncs++;
      } else this.unsynced = true;
      this.size = pos;
      this.stats.batches++;
      this.stats.bytes += pos - start;
      batch.forEach((p, i) => {
        this.stats.records += p.groups.length;
        p.resolve(results[i] as AppendResult);
      });
    } catch (err) {
      const e = storageErrorFrom(err, `write queue segment ${segmentFileName(this.current)}`);
      // Take the partial batch back out so replay never sees it; if even that
      // fails, the checksums make replay drop the torn tail.
      try {
        await this.fh?.truncate(start);
        await this.fh?.datasync();
      } catch {
        this.broken = true;
      }
      if (e.kind === 'io') this.broken = true;
      for (const p of batch) p.reject(e);
    }
  }

  private async rotate(): Promise<void> {
    const old = this.current;
    const oldSize = this.size;
    const wasOpen = this.fh !== undefined;
    await this.closeFile();
    if (wasOpen) this.onRotate({ closed: old, closedSize: oldSize });
    await this.createSegment(old + 1);
    this.broken = false;
    this.onRotate({ created: old + 1 });
  }

  private async createSegment(n: number): Promise<void> {
    const path = join(this.dir, segmentFileName(n));
    // 'wx': a segment number is never reused while its file exists.
    const fh = await open(path, 'wx', 0o600);
    try {
      const header = segmentHeader(n);
      await writeFully(fh, [header], 0);
      await fh.sync();
      await fsyncDir(this.dir);
    } catch (err) {
      // Leave no headerless file behind (e.g. on ENOSPC), so the next attempt can create it again.
      await fh.close();
      await unlink(path).catch(() => undefined);
      throw err;
    }
    this.fh = fh;
    this.current = n;
    this.size = segmentHeader(n).length;
  }

  private async closeFile(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (!fh) return;
    // Lazy records are not left to the kernel's writeback once we leave their segment.
    if (this.unsynced && !this.broken) await fh.datasync().catch(() => undefined);
    this.unsynced = false;
    await fh.close();
  }

  /** Wait for pending batches, then close the file. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing || this.pending.length > 0) await new Promise((r) => setImmediate(r));
    await this.closeFile();
  }
}

async function writeFully(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  // writev may write less than asked (e.g. near ENOSPC); continue from where it stopped.
  const list = bufs.filter((b) => b.length > 0);
  let i = 0;
  let pos = position;
  while (i < list.length) {
    const { bytesWritten } = await fh.writev(list.slice(i, i + 1024), pos);
    if (bytesWritten === 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
    pos += bytesWritten;
    let skip = bytesWritten;
    while (skip > 0 && i < list.length) {
      const first = list[i] as Buffer;
      if (first.length <= skip) {
        skip -= first.length;
        i++;
      } else {
        list[i] = first.subarray(skip);
        skip = 0;
      }
    }
  }
}
