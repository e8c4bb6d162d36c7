// Connection caching of smtp(8) (Postfix's scache/CONNECTION_CACHE_README):
// an idle session is kept for `smtp_connection_cache_time_limit` seconds so
// the next delivery to the same destination skips DNS, TCP, greeting, EHLO
// and TLS. Reuse stops after `smtp_connection_reuse_time_limit` seconds or
// `smtp_connection_reuse_count_limit` transactions.
import type { Session } from './session.js';

interface Idle {
  readonly session: Session;
  readonly timer: NodeJS.Timeout;
}

export class ConnectionCache {
  private readonly idle = new Map<string, Idle[]>();

  /** Keep `session` for later; it is closed with QUIT when nobody takes it in time. */
  put(key: string, session: Session, idleSeconds: number, quitTimeout: number): void {
    const timer = setTimeout(
      () => {
        const list = this.idle.get(key) ?? [];
        this.idle.set(
          key,
          list.filter((i) => i.session !== session),
        );
        void session.conn.quit(quitTimeout);
      },
      Math.max(1, idleSeconds) * 1000,
    );
    timer.unref();
    session.conn.setIdle(true);
    this.idle.set(key, [...(this.idle.get(key) ?? []), { session, timer }]);
  }

  /** A cached session still within its reuse limits, or undefined. */
  take(key: string, reuseTimeLimit: number, reuseCountLimit: number): Session | undefined {
    const list = this.idle.get(key) ?? [];
    while (list.length) {
      const item = list.shift();
      if (!item) break;
      clearTimeout(item.timer);
      const c = item.session.conn;
      c.setIdle(false);
      const tooOld = reuseTimeLimit > 0 && Date.now() - c.createdAt > reuseTimeLimit * 1000;
      const tooMany = reuseCountLimit > 0 && c.transactions >= reuseCountLimit;
      if (c.isClosed || c.pendingInput || tooOld || tooMany) {
        void c.quit(5);
        continue;
      }
      return item.session;
    }
    this.idle.delete(key);
    return undefined;
  }

  async closeAll(quitTimeout: number): Promise<void> {
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    for (const i of all) clearTimeout(i.timer);
    await Promise.all(all.map((i) => i.session.conn.quit(quitTimeout)));
  }
}
