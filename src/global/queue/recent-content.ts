// The content of messages the queue store committed a moment ago, kept in
// memory (bounded) so that the first delivery attempt — usually within
// milliseconds of the commit — does not reopen and reread the segment file
// it was just written to. Through libuv's thread pool that open/read/close
// cost a third of the relay path's CPU (bench/RESULTS.md). Postfix's qmgr
// and delivery agents reread the queue file from the page cache; this is
// the same bytes without the system calls. What is kept is a copy, or the
// caller's own pieces when it hands them over (cleanup never touches them
// again), so it is always what segments/ holds; pieces are joined into one
// buffer only when a delivery asks, which discarded mail never does.

export class RecentContent {
  private readonly items = new Map<
    string,
    { pieces: readonly Buffer[] | undefined; joined: Buffer | undefined; size: number }
  >();
  private bytes = 0;

  /**
   * @param maxBytes the most content kept in all; the oldest goes first.
   * @param maxItemBytes larger messages are never kept (they are read from disk).
   */
  constructor(
    private readonly maxBytes = 8 * 1024 * 1024,
    private readonly maxItemBytes = 256 * 1024,
  ) {}

  /**
   * Keep `pieces` (`size` bytes in all) for `queueId`: a copy, unless the
   * caller `handedOver` buffers it will never change again.
   */
  put(queueId: string, pieces: readonly Buffer[], size: number, handedOver = false): void {
    if (size > this.maxItemBytes || size > this.maxBytes) return;
    this.drop(queueId);
    this.items.set(
      queueId,
      handedOver
        ? { pieces: [...pieces], joined: undefined, size }
        : { pieces: undefined, joined: Buffer.concat(pieces, size), size },
    );
    this.bytes += size;
    while (this.bytes > this.maxBytes) {
      const oldest = this.items.keys().next();
      if (oldest.done) break;
      this.drop(oldest.value);
    }
  }

  get(queueId: string): Buffer | undefined {
    const item = this.items.get(queueId);
    if (!item) return undefined;
    if (item.joined === undefined) {
      const pieces = item.pieces ?? [];
      item.joined =
        pieces.length === 1 && pieces[0]?.length === item.size ? pieces[0] : Buffer.concat(pieces, item.size);
      item.pieces = undefined;
    }
    return item.joined;
  }

  drop(queueId: string): void {
    const item = this.items.get(queueId);
    if (!item) return;
    this.items.delete(queueId);
    this.bytes -= item.size;
  }

  /** Bytes held now (tests, stats). */
  get size(): number {
    return this.bytes;
  }
}
