// Time as qmgr sees it: wall-clock now and one-shot timers. Tests substitute
// a controllable clock so backoff and expiry are checked without waiting.

export interface Clock {
  /** ms since epoch. */
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, Math.max(0, Math.min(ms, 2_147_000_000)));
    // qmgr timers must not keep a stopping process alive.
    t.unref();
    return () => clearTimeout(t);
  },
};
