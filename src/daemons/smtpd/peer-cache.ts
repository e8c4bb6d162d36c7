// A short-lived, bounded memory of client-name answers for smtpd(8)'s
// peer lookups. Each session asks getnameinfo() and getaddrinfo() for its
// client; through libuv's thread pool that was the largest single cost of a
// short session in the benchmark, and a busy client (a relay host, a
// submission server, a bulk sender) reconnects with the same address many
// times a second. Like nscd in front of the C library resolver, answers and
// "no such name" are kept for a few seconds; temporary failures never are,
// and concurrent sessions from one address share one lookup in flight.
import type { PeerResolver } from './peer.js';

export interface PeerCacheOptions {
  /** How long an answer is reused, in milliseconds. */
  readonly ttlMs?: number;
  /** Most addresses and names remembered; the oldest entry goes first. */
  readonly maxEntries?: number;
  /** Injectable clock for tests. */
  readonly now?: () => number;
}

interface Entry {
  readonly expires: number;
  readonly answer: Promise<string[]>;
}

/** Errors that say the name does not exist, as opposed to "try again". */
const PERMANENT = new Set(['ENOTFOUND', 'EAI_NONAME', 'ENODATA']);

class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  get(key: string, fetch: () => Promise<string[]>): Promise<string[]> {
    const t = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > t) return hit.answer;
    if (hit) this.entries.delete(key);
    const answer = fetch();
    this.entries.set(key, { expires: t + this.ttlMs, answer });
    answer.catch((e: unknown) => {
      const code = (e as { code?: unknown } | null)?.code;
      if (typeof code !== 'string' || !PERMANENT.has(code)) {
        if (this.entries.get(key)?.answer === answer) this.entries.delete(key);
      }
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    return answer;
  }
}

/** `inner` with its reverse and forward answers reused for `ttlMs` (default 10 s). */
export function cachingResolver(inner: PeerResolver, opts: PeerCacheOptions = {}): PeerResolver {
  const ttl = opts.ttlMs ?? 10_000;
  const max = opts.maxEntries ?? 10_000;
  const now = opts.now ?? Date.now;
  const reverse = new AnswerCache(ttl, max, now);
  const forward = new AnswerCache(ttl, max, now);
  return {
    reverse: (addr) => reverse.get(addr, () => inner.reverse(addr)),
    forward: (name, family) => forward.get(`${family} ${name.toLowerCase()}`, () => inner.forward(name, family)),
  };
}
