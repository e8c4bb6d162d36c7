// Connection caching of smtp(8) (Postfix's scache/CONNECTION_CACHE_README):
// an idle session is kept for `smtp_connection_cache_time_limit` seconds so
// the next delivery to the same destination skips DNS, TCP, greeting, EHLO
// and TLS. Reuse stops after `smtp_connection_reuse_time_limit` seconds or
// `smtp_connection_reuse_count_limit` transactions.
// A session is put back and taken again once per delivery: one timer for the
// whole cache (firing at the earliest expiry) instead of one per put.
import type { Session } from './session.js';

interface Idle {
  readonly session: Session;
  /** When it is closed if nobody took it (ms). */
  readonly expires: number;
  readonly quitTimeout: number;
}

export class ConnectionCache {
  private readonly idle = new Map<string, Idle[]>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;

  /** Keep `session` for later; it is closed with QUIT when nobody takes it in time. */
  put(key: string, session: Session, idleSeconds: number, quitTimeout: number): void {
    const now = Date.now();
    const expires = now + Math.max(1, idleSeconds) * 1000;
    session.conn.setIdle(true);
    const list = this.idle.get(key);
    const item = { session, expires, quitTimeout };
    if (list) list.push(item);
    else this.idle.set(key, [item]);
    this.arm(expires, now);
  }

  /** A cached session still within its reuse limits, or undefined. */
  take(key: string, reuseTimeLimit: number, reuseCountLimit: number): Session | undefined {
    const list = this.idle.get(key);
    if (!list) return undefined;
    for (let item = list.shift(); item; item = list.shift()) {
      const c = item.session.conn;
      c.setIdle(false);
      const tooOld = reuseTimeLimit > 0 && Date.now() - c.createdAt > reuseTimeLimit * 1000;
      const tooMany = reuseCountLimit > 0 && c.transactions >= reuseCountLimit;
      if (c.isClosed || c.pendingInput || tooOld || tooMany) {
        void c.quit(5);
        continue;
      }
      if (list.length === 0) this.idle.delete(key);
      return item.session;
    }
    this.idle.delete(key);
    return undefined;
  }

  async closeAll(quitTimeout: number): Promise<void> {
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(all.map((i) => i.session.conn.quit(quitTimeout)));
  }

  /** Make sure the timer fires no later than `at`. */
  private arm(at: number, now: number): void {
    if (this.timer !== undefined) {
      if (this.timerAt <= at) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(() => this.expire(), Math.max(0, at - now));
    // Idle sessions must not keep the process alive.
    this.timer.unref();
  }

  /** QUIT the sessions whose time is up; wait for the next one to expire. */
  private expire(): void {
    this.timer = undefined;
    const now = Date.now();
    let next = Infinity;
    for (const [key, list] of this.idle) {
      const keep = list.filter((i) => {
        if (i.expires > now) return true;
        void i.session.conn.quit(i.quitTimeout);
        return false;
      });
      if (keep.length === 0) this.idle.delete(key);
      else this.idle.set(key, keep);
      for (const i of keep) next = Math.min(next, i.expires);
    }
    if (next !== Infinity) this.arm(next, now);
  }
}
