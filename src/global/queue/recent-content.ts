// The content of messages the queue store committed a moment ago, kept in
// memory (bounded) so that the first delivery attempt — usually within
// milliseconds of the commit — does not reopen and reread the segment file
// it was just written to. Through libuv's thread pool that open/read/close
// cost a third of the relay path's CPU (bench/RESULTS.md). Postfix's qmgr
// and delivery agents reread the queue file from the page cache; this is
// the same bytes without the system calls. Content is immutable once
// committed, so the copy here is always what segments/ holds.

export class RecentContent {
  private readonly items = new Map<string, Buffer>();
  private bytes = 0;

  /**
   * @param maxBytes the most content kept in all; the oldest goes first.
   * @param maxItemBytes larger messages are never kept (they are read from disk).
   */
  constructor(
    private readonly maxBytes = 8 * 1024 * 1024,
    private readonly maxItemBytes = 256 * 1024,
  ) {}

  /** Keep a copy of `pieces` (`size` bytes in all) for `queueId`. */
  put(queueId: string, pieces: readonly Buffer[], size: number): void {
    if (size > this.maxItemBytes || size > this.maxBytes) return;
    this.drop(queueId);
    // A copy: the caller's buffers are not ours to keep unchanged.
    const copy = Buffer.concat(pieces, size);
    this.items.set(queueId, copy);
    this.bytes += copy.length;
    while (this.bytes > this.maxBytes) {
      const oldest = this.items.keys().next();
      if (oldest.done) break;
      this.drop(oldest.value);
    }
  }

  get(queueId: string): Buffer | undefined {
    return this.items.get(queueId);
  }

  drop(queueId: string): void {
    const b = this.items.get(queueId);
    if (!b) return;
    this.items.delete(queueId);
    this.bytes -= b.length;
  }

  /** Bytes held now (tests, stats). */
  get size(): number {
    return this.bytes;
  }
}
