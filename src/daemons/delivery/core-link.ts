// The core worker's end of the channel to the delivery process
// (docs/ARCHITECTURE.md, "Processes and privileges"): qmgr's requests for
// local, virtual and pipe are sent there; the content is served in chunks
// when the delivery process asks for it (so neither side holds more than a
// chunk per stream in flight), and its calls back (trivial-rewrite, cleanup
// for forwarded copies, mailbox_transport hand-offs) are answered here. When
// the channel breaks, every delivery in flight is deferred, never lost; the
// next request waits a little for master to connect a restarted process.
import type { Socket } from 'node:net';
import type { Logger } from '../../global/log/logger.js';
import type { DeliveryRecipient, DeliveryRequest, RecipientOutcome } from '../../global/queue/delivery-api.js';
import { corkedWriter, encodeFrame, readFrames } from './frame.js';
import {
  CHUNK_BYTES,
  decodeToCore,
  MAX_FRAME_TO_CORE,
  type ToCore,
  type ToDelivery,
  type WireRequest,
} from './protocol.js';

/** How long a request waits for a channel (delivery process starting or restarting) before it is deferred. */
const CHANNEL_WAIT_MS = 15_000;
/** Content streams one delivery may have open at once. */
const MAX_STREAMS = 16;

/** What the delivery process may ask of the core worker for one delivery. */
export interface CoreCallbacks {
  isLocal(address: string): Promise<boolean>;
  forward(
    req: DeliveryRequest,
    rcpt: DeliveryRecipient,
    sender: string,
    addresses: readonly string[],
    addDeliveredTo: boolean,
  ): Promise<{ status: RecipientOutcome['status']; dsn: string; reason: string }>;
  pass(transport: string, nexthop: string, req: DeliveryRequest, rcpt: DeliveryRecipient): Promise<RecipientOutcome>;
}

interface Stream {
  iter: AsyncIterator<Buffer>;
  rest: Buffer | undefined;
  /** Reads are served one at a time per stream, whatever the peer sends. */
  busy: Promise<void>;
}

interface Pending {
  readonly socket: Socket;
  readonly req: DeliveryRequest;
  readonly cb: CoreCallbacks;
  readonly streams: Map<number, Stream>;
  readonly resolve: (o: RecipientOutcome[]) => void;
}

export function deferAll(req: DeliveryRequest, reason: string, dsn = '4.3.0'): RecipientOutcome[] {
  return req.recipients.map((r) => ({ index: r.index, status: 'deferred', dsn, relay: 'none', reason }));
}

function toWire(req: DeliveryRequest): WireRequest {
  const w: Record<string, unknown> = {
    queueId: req.queueId,
    transport: req.transport,
    nexthop: req.nexthop,
    sender: req.sender,
    recipients: req.recipients.map((r) => {
      const o: Record<string, unknown> = { address: r.address, original: r.original, index: r.index };
      if (r.orcpt !== undefined) o.orcpt = r.orcpt;
      if (r.notify !== undefined) o.notify = [...r.notify];
      return o;
    }),
    arrivalTime: Math.max(0, Math.floor(req.arrivalTime)),
    size: req.size,
  };
  for (const k of ['envid', 'ret', 'body', 'smtputf8', 'client', 'verifyOnly'] as const)
    if (req[k] !== undefined) w[k] = req[k];
  return w as unknown as WireRequest;
}

/** The whole content when it fits in one chunk (most mail): it then travels with the request. */
async function smallContent(req: DeliveryRequest): Promise<Buffer | undefined> {
  if (req.size > CHUNK_BYTES) return undefined;
  const parts: Buffer[] = [];
  let total = 0;
  for await (const b of req.openContent()) {
    total += b.length;
    if (total > CHUNK_BYTES) return undefined; // size was understated: stream it instead
    parts.push(b);
  }
  return Buffer.concat(parts);
}

export class DeliveryLink {
  /** Set in the core worker, where master always runs a delivery process; elsewhere agents run in-process. */
  enabled = false;
  private socket: Socket | undefined;
  private log: Logger | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private waiters: (() => void)[] = [];
  private readonly writers = new WeakMap<Socket, (frame: Buffer) => void>();

  /** A new channel from master (first start, or after either process restarted). */
  setChannel(socket: Socket, log: Logger): void {
    this.log = log;
    this.socket?.destroy();
    this.socket = socket;
    this.writers.set(socket, corkedWriter(socket));
    socket.on('error', () => undefined); // close follows
    socket.on('close', () => this.channelLost(socket));
    readFrames(
      socket,
      MAX_FRAME_TO_CORE,
      (f) => this.onFrame(socket, f.header),
      (e) => log.warning(`delivery channel: ${e.message}`),
    );
    socket.resume();
    for (const w of this.waiters.splice(0)) w();
  }

  close(): void {
    this.socket?.destroy();
  }

  async deliver(service: string, req: DeliveryRequest, cb: CoreCallbacks): Promise<RecipientOutcome[]> {
    if (!this.socket) await this.waitForChannel();
    const socket = this.socket;
    if (!socket) return deferAll(req, 'mail transport unavailable');
    const inline = await smallContent(req);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { socket, req, cb, streams: new Map(), resolve });
      if (inline) this.send(socket, { t: 'deliver', id, service, req: toWire(req), inline: true }, inline);
      else this.send(socket, { t: 'deliver', id, service, req: toWire(req) });
    });
  }

  private waitForChannel(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      }, CHANNEL_WAIT_MS);
      this.waiters.push(done);
    });
  }

  private send(socket: Socket, msg: ToDelivery, data?: Buffer): void {
    if (!socket.destroyed) (this.writers.get(socket) ?? ((f: Buffer) => socket.write(f)))(encodeFrame(msg, data));
  }

  private channelLost(socket: Socket): void {
    if (this.socket === socket) this.socket = undefined;
    for (const [id, p] of this.pending) {
      if (p.socket !== socket) continue;
      this.finish(id, p, deferAll(p.req, 'unknown mail transport error: delivery process crashed'));
    }
  }

  private finish(id: number, p: Pending, outcomes: RecipientOutcome[]): void {
    this.pending.delete(id);
    for (const s of p.streams.values()) void s.iter.return?.().catch(() => undefined);
    p.streams.clear();
    p.resolve(outcomes);
  }

  private onFrame(socket: Socket, header: unknown): void {
    const msg = decodeToCore(header);
    if (!msg) {
      this.log?.warning('delivery channel: malformed message from the delivery process; closing the channel');
      socket.destroy();
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p || p.socket !== socket) return; // finished or from an old channel: nothing to answer
    switch (msg.t) {
      case 'read':
        return this.serveRead(msg.id, p, msg.stream);
      case 'close': {
        const s = p.streams.get(msg.stream);
        p.streams.delete(msg.stream);
        void s?.iter.return?.().catch(() => undefined);
        return;
      }
      case 'done':
        return this.finish(msg.id, p, this.checkedOutcomes(p.req, msg.outcomes));
      default:
        return void this.serveCall(p, msg);
    }
  }

  /** Outcomes for exactly the request's recipients; anything missing is deferred, strays are dropped. */
  private checkedOutcomes(req: DeliveryRequest, got: readonly RecipientOutcome[]): RecipientOutcome[] {
    const byIndex = new Map(got.map((o) => [o.index, o]));
    return req.recipients.map(
      (r) =>
        byIndex.get(r.index) ?? {
          index: r.index,
          status: 'deferred',
          dsn: '4.3.0',
          relay: 'none',
          reason: 'unknown mail transport error',
        },
    );
  }

  private serveRead(id: number, p: Pending, stream: number): void {
    let s = p.streams.get(stream);
    if (!s) {
      if (p.streams.size >= MAX_STREAMS) {
        this.send(p.socket, { t: 'fail', id, stream, reason: 'too many content streams' });
        return;
      }
      s = { iter: p.req.openContent()[Symbol.asyncIterator](), rest: undefined, busy: Promise.resolve() };
      p.streams.set(stream, s);
    }
    const st = s;
    st.busy = st.busy.then(async () => {
      try {
        let chunk = st.rest;
        st.rest = undefined;
        while (!chunk || chunk.length === 0) {
          const r = await st.iter.next();
          if (r.done) {
            this.send(p.socket, { t: 'eof', id, stream });
            return;
          }
          chunk = r.value;
        }
        if (chunk.length > CHUNK_BYTES) {
          st.rest = chunk.subarray(CHUNK_BYTES);
          chunk = chunk.subarray(0, CHUNK_BYTES);
        }
        this.send(p.socket, { t: 'data', id, stream }, chunk);
      } catch (e) {
        this.send(p.socket, { t: 'fail', id, stream, reason: (e as Error).message });
      }
    });
  }

  private recipient(p: Pending, index: number): DeliveryRecipient | undefined {
    return p.req.recipients.find((r) => r.index === index);
  }

  private async serveCall(p: Pending, msg: Exclude<ToCore, { t: 'read' | 'close' | 'done' }>): Promise<void> {
    const fail = (reason: string): void =>
      this.send(p.socket, { t: 'result', call: msg.call, status: 'deferred', dsn: '4.3.0', reason });
    try {
      if (msg.t === 'isLocal') {
        this.send(p.socket, { t: 'local', call: msg.call, value: await p.cb.isLocal(msg.address) });
        return;
      }
      const rcpt = this.recipient(p, msg.index);
      if (!rcpt) return fail('mail system configuration error: no such recipient');
      const r =
        msg.t === 'forward'
          ? await p.cb.forward(p.req, rcpt, msg.sender, msg.addresses, msg.addDeliveredTo)
          : await p.cb.pass(msg.transport, msg.nexthop, p.req, { ...rcpt, address: msg.address });
      this.send(p.socket, { t: 'result', call: msg.call, status: r.status, dsn: r.dsn, reason: r.reason });
    } catch (e) {
      this.log?.warning(`${p.req.queueId}: delivery channel: ${msg.t}: ${(e as Error).message}`);
      // for isLocal too: a deferral, never a guess that would send mail elsewhere
      fail('local delivery failed');
    }
  }
}

/** The core worker's one link (set up by core-worker.ts). */
export const deliveryLink = new DeliveryLink();
