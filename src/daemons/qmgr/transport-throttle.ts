// transport_retry_time: a transport whose delivery agent failed (the call
// itself broke, not a delivery) is left alone for that long, as Postfix's
// qmgr stops connecting to a malfunctioning transport: its mail is deferred
// at once with the reason instead of being tried batch after batch, and the
// first request after the pause probes the transport again. (A transport no
// service publishes defers without a suspension: services come and go for a
// moment at start-up and reload.)

export interface TransportFault {
  readonly dsn: string;
  readonly reason: string;
}

export class TransportThrottle {
  private readonly dead = new Map<string, TransportFault & { until: number }>();

  constructor(
    /** transport_retry_time in ms. */
    private readonly retryMs: number,
  ) {}

  /** The fault that still suspends a transport, if any. */
  fault(transport: string, now: number): TransportFault | undefined {
    const f = this.dead.get(transport);
    if (!f) return undefined;
    if (now < f.until) return f;
    this.dead.delete(transport);
    return undefined;
  }

  suspend(transport: string, fault: TransportFault, now: number): void {
    this.dead.set(transport, { ...fault, until: now + this.retryMs });
  }

  /** postqueue -f: try everything again now. */
  reset(): void {
    this.dead.clear();
  }
}
