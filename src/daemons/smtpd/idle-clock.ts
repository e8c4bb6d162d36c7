// smtpd_timeout for every session of one smtpd(8) server, on one shared
// timer instead of a timer per socket. A socket's own timeout (setTimeout)
// is refreshed by Node on every read and every write, about fourteen timer
// re-insertions per message at one message per session; here each session
// only exposes a progress counter (bytes read plus bytes written), and a
// sweep, a tenth of the timeout apart (at most a second), notices the
// sessions whose counter has not moved for the whole timeout. So a timeout
// fires between smtpd_timeout and smtpd_timeout plus one sweep after the
// last byte either way, as Postfix's per-read and per-write deadline does
// within that slack.

/** What the clock needs from a session. */
export interface IdleWatched {
  /** Bytes read plus bytes written so far: unchanged means idle. */
  progress(): number;
  /** The timeout elapsed with no progress; the clock starts counting again afterwards. */
  onIdle(): void;
}

interface Entry {
  readonly who: IdleWatched;
  last: number;
  idleMs: number;
}

/** The longest sweep interval, and the shortest (for sub-second test timeouts). */
const MAX_TICK_MS = 1000;
const MIN_TICK_MS = 50;

export class IdleClock {
  private readonly entries = new Set<Entry>();
  private timer: NodeJS.Timeout | undefined;
  private readonly tickMs: number;

  constructor(private readonly timeoutMs: number) {
    this.tickMs = Math.max(MIN_TICK_MS, Math.min(MAX_TICK_MS, Math.floor(timeoutMs / 10)));
  }

  /** Start watching; returns the function that stops it (call it when the session ends). */
  watch(who: IdleWatched): () => void {
    const e: Entry = { who, last: who.progress(), idleMs: 0 };
    this.entries.add(e);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), this.tickMs);
      // Like a socket's own timeout, this must not keep a stopping process alive.
      this.timer.unref();
    }
    return () => {
      this.entries.delete(e);
      if (this.entries.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private sweep(): void {
    for (const e of this.entries) {
      const p = e.who.progress();
      if (p !== e.last) {
        e.last = p;
        e.idleMs = 0;
        continue;
      }
      e.idleMs += this.tickMs;
      if (e.idleMs < this.timeoutMs) continue;
      e.idleMs = 0;
      try {
        e.who.onIdle();
      } catch {
        // One session's failure to end must not stop the others' clocks.
      }
    }
  }
}
