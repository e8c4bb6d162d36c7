// Run async work one at a time per key (a queue ID, a cached address), in the
// order it was asked for, while different keys run side by side. A failure
// does not stop the work queued behind it. The map holds only keys with work
// in flight, so it stays as small as the concurrency.
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn, fn);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
