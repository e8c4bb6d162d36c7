// anvil(8): per-client connection counts and event rates for smtpd's
// smtpd_client_*_limit parameters. Postfix runs anvil as its own daemon
// reached over a socket; Postern hosts every smtpd session in one process,
// so anvil is an in-process module with the same model: a client is keyed
// by `service:address`, each rate counts events in a window of
// anvil_rate_time_unit that starts at the first event, and idle entries
// are dropped so memory follows the number of active clients.

export interface AnvilOptions {
  /** anvil_rate_time_unit in milliseconds. */
  readonly rateTimeUnitMs: number;
  /** Clock, injectable for tests. */
  readonly now?: () => number;
}

interface Rate {
  start: number;
  count: number;
}

interface ClientEntry {
  connections: number;
  connect: Rate;
  message: Rate;
  recipient: Rate;
  lastUse: number;
}

export interface ConnectResult {
  /** Simultaneous connections including this one. */
  readonly count: number;
  /** Connections in the current rate window including this one. */
  readonly rate: number;
}

export class Anvil {
  private readonly clients = new Map<string, ClientEntry>();
  private readonly now: () => number;
  private ops = 0;

  constructor(private readonly opts: AnvilOptions) {
    this.now = opts.now ?? Date.now;
  }

  private entry(key: string): ClientEntry {
    this.maybeSweep();
    let e = this.clients.get(key);
    const t = this.now();
    if (!e) {
      e = {
        connections: 0,
        connect: { start: t, count: 0 },
        message: { start: t, count: 0 },
        recipient: { start: t, count: 0 },
        lastUse: t,
      };
      this.clients.set(key, e);
    }
    e.lastUse = t;
    return e;
  }

  private bump(r: Rate, n = 1): number {
    const t = this.now();
    if (t - r.start >= this.opts.rateTimeUnitMs) {
      r.start = t;
      r.count = 0;
    }
    r.count += n;
    return r.count;
  }

  connect(service: string, addr: string): ConnectResult {
    const e = this.entry(`${service}:${addr}`);
    e.connections++;
    return { count: e.connections, rate: this.bump(e.connect) };
  }

  disconnect(service: string, addr: string): void {
    const e = this.clients.get(`${service}:${addr}`);
    if (e && e.connections > 0) e.connections--;
  }

  /** Count a MAIL FROM request; returns the rate in the current window. */
  message(service: string, addr: string): number {
    return this.bump(this.entry(`${service}:${addr}`).message);
  }

  /** Count a RCPT TO request; returns the rate in the current window. */
  recipient(service: string, addr: string): number {
    return this.bump(this.entry(`${service}:${addr}`).recipient);
  }

  /** Number of clients tracked (for tests and the statistics log). */
  size(): number {
    return this.clients.size;
  }

  /** Drop clients with no connection whose rate windows have all expired. */
  sweep(): void {
    const t = this.now();
    for (const [key, e] of this.clients) {
      if (e.connections === 0 && t - e.lastUse >= this.opts.rateTimeUnitMs) this.clients.delete(key);
    }
  }

  private maybeSweep(): void {
    // Amortised: a full pass every 1024 operations keeps the map near the live client count.
    if (++this.ops % 1024 === 0) this.sweep();
  }
}
