// verify(8)'s cache logic: answer a query from the cache, decide when a
// probe is due, and take a probe's result. The rules are Postfix's:
// - nothing cached, a damaged entry, or an entry past its expire time (with
//   no probe sent in the last 1000 s) reads as "Address verification in
//   progress";
// - a probe goes out when the entry is past its refresh time (positive or
//   negative) and none went out in the last 1000 s; the entry then records
//   when, so concurrent queries send one probe, not many;
// - a failed probe never replaces a cached "deliverable" (optimistic caching);
// - with address_verify_negative_cache = no nothing is stored for an unknown
//   address, and qmgr does not report failures (each query probes again).
// A periodic run drops expired entries (address_verify_cache_cleanup_interval).
import type { Logger } from '../../global/log/logger.js';
import { cacheKey, decodeEntry, encodeEntry, type CacheEntry } from './cache-entry.js';
import type { VerifyMap } from './cache-map.js';
import type { AddressVerifier, VerifyAnswer, VerifyStatus } from './verify-api.js';
import { KeyedQueue } from '../../util/keyed-queue.js';

/** A probe with no answer after this long is presumed lost and may be sent again (seconds). */
export const PROBE_TTL = 1000;
export const IN_PROGRESS = 'Address verification in progress';

export interface VerifierSettings {
  /** Seconds. */
  readonly positiveExpire: number;
  readonly positiveRefresh: number;
  readonly negativeExpire: number;
  readonly negativeRefresh: number;
  readonly negativeCache: boolean;
}

export interface VerifierDeps {
  readonly map: VerifyMap;
  readonly settings: VerifierSettings;
  readonly logger: Logger;
  /** Queue a probe for `address`; rejects when it could not be queued. */
  readonly sendProbe: (address: string) => Promise<void>;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
}

export class Verifier implements AddressVerifier {
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Per-key chain: a query and an update of one address never interleave their read and write. */
  private readonly locks = new KeyedQueue();
  private readonly now: () => number;

  constructor(private readonly d: VerifierDeps) {
    this.now = d.now ?? Date.now;
  }

  get negativeCache(): boolean {
    return this.d.settings.negativeCache;
  }

  query(address: string): Promise<VerifyAnswer> {
    const key = cacheKey(address);
    return this.locked(key, () => this.queryLocked(key, address));
  }

  update(address: string, status: Exclude<VerifyStatus, 'todo'>, text: string): Promise<void> {
    const key = cacheKey(address);
    return this.locked(key, async () => {
      const old = await this.read(key);
      if (status === 'ok' || !old || old.status !== 'ok') {
        await this.d.map.put(key, encodeEntry({ status, probed: 0, updated: this.seconds(), text }));
      }
      const w = this.waiters.get(key);
      this.waiters.delete(key);
      for (const f of w ?? []) f();
    });
  }

  settled(address: string, ms: number): Promise<void> {
    const key = cacheKey(address);
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve();
      };
      // Not unref'd: whoever waits must hear back at the time limit even if nothing else keeps the process busy.
      const timer = setTimeout(done, Math.max(0, ms));
      set.add(done);
    });
  }

  /** Drop expired and damaged entries; entries with a probe out are kept. Returns the counts it logs. */
  async cleanup(): Promise<{ retained: number; dropped: number }> {
    const now = this.seconds();
    const drop: string[] = [];
    let retained = 0;
    for await (const [key, raw] of this.d.map.entries()) {
      const e = decodeEntry(raw);
      if (e && (now - e.probed < PROBE_TTL || !this.expired(e, now))) retained++;
      else drop.push(key);
    }
    await this.d.map.delete(drop);
    this.d.logger.info(`cache ${this.d.map.name} full cleanup: retained=${retained} dropped=${drop.length} entries`);
    return { retained, dropped: drop.length };
  }

  private async queryLocked(key: string, address: string): Promise<VerifyAnswer> {
    const now = this.seconds();
    const raw = await this.d.map.get(key);
    const cached = raw === undefined ? undefined : this.decode(raw);
    let e: CacheEntry;
    if (!cached || (now - cached.probed > PROBE_TTL && this.expired(cached, now))) {
      e = { status: 'todo', probed: 0, updated: 0, text: IN_PROGRESS };
      if (raw !== undefined && !this.d.settings.negativeCache) await this.d.map.delete([key]);
    } else e = cached;
    if (now - e.probed > PROBE_TTL && this.refreshDue(e, now)) {
      try {
        await this.d.sendProbe(address);
        if (e.updated !== 0 || this.d.settings.negativeCache) {
          await this.d.map.put(key, encodeEntry({ ...e, probed: now }));
        }
      } catch (err) {
        // Nothing recorded: the next query tries again.
        this.d.logger.warning(`cannot send address verification probe for ${address}: ${(err as Error).message}`);
      }
    }
    return { status: e.status, text: e.text };
  }

  private async read(key: string): Promise<CacheEntry | undefined> {
    const raw = await this.d.map.get(key);
    return raw === undefined ? undefined : this.decode(raw);
  }

  private decode(raw: string): CacheEntry | undefined {
    const e = decodeEntry(raw);
    if (!e) this.d.logger.warning(`bad address verify table entry: ${raw.slice(0, 100)}`);
    return e;
  }

  private expired(e: CacheEntry, now: number): boolean {
    const s = this.d.settings;
    return e.status === 'ok' ? e.updated + s.positiveExpire < now : e.updated + s.negativeExpire < now;
  }

  private refreshDue(e: CacheEntry, now: number): boolean {
    const s = this.d.settings;
    return e.status === 'ok' ? e.updated + s.positiveRefresh < now : e.updated + s.negativeRefresh < now;
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(key, fn);
  }
}
