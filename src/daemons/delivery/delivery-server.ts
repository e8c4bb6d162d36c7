// The delivery process's end of the channel from the core worker
// (docs/ARCHITECTURE.md, "Processes and privileges"). Each `deliver` message
// becomes a DeliveryRequest whose content is pulled from the core one chunk
// at a time, and is handed to the agent of the named master.cf service;
// agents' calls back (trivial-rewrite, forwarding, mailbox_transport) travel
// to the core tagged with the delivery they belong to, found by the request
// object the agent was given (not an AsyncLocalStorage: its promise hooks
// made every await in this process about three times dearer). Anything
// malformed closes the channel: root acts only on well-formed requests for
// hosted services.
import type { Socket } from 'node:net';
import type { Logger } from '../../global/log/logger.js';
import type {
  DeliveryAgent,
  DeliveryRecipient,
  DeliveryRequest,
  RecipientOutcome,
} from '../../global/queue/delivery-api.js';
import type { ForwardCopy } from '../local/forwarding.js';
import { writeSlots, type WriteSlot } from '../local/maildir-batch.js';
import type { Leaf } from '../local/recipient-outcome.js';
import { corkedWriter, encodeFrame, readFrames } from './frame.js';
import { destinationKey, type DestinationGate, type GatePolicy } from './destination-gate.js';
import { decodeToDelivery, MAX_FRAME_TO_DELIVERY, type ToCore, type ToDelivery, type WireOutcome } from './protocol.js';

/** Deliveries in progress at once; beyond this the core is told to try later (qmgr's maxproc normally keeps far below). */
const MAX_IN_FLIGHT = 1000;

type Answer = Extract<ToDelivery, { t: 'data' | 'eof' | 'fail' | 'local' | 'result' }>;

interface Waiter {
  readonly resolve: (a: { msg: Answer; data: Buffer }) => void;
  readonly reject: (e: Error) => void;
}

interface Current {
  readonly server: DeliveryServer;
  readonly id: number;
}

/** The delivery each request object belongs to (the one handed to the agent, which passes it along). */
const current = new WeakMap<DeliveryRequest, Current>();

class ChannelClosedError extends Error {
  constructor() {
    super('delivery channel closed');
  }
}

/** The hooks agents get for what only the core can do; they find their delivery through `current`. */
export async function remoteIsLocal(address: string, req: DeliveryRequest): Promise<boolean> {
  const a = await ask(req, (id, call) => ({ t: 'isLocal', id, call, address }));
  if (a.t === 'local') return a.value;
  throw new Error(a.t === 'result' ? a.reason : 'unexpected answer');
}

export async function remoteForward(f: ForwardCopy): Promise<Leaf> {
  const a = await ask(f.req, (id, call) => ({
    t: 'forward',
    id,
    call,
    index: f.rcpt.index,
    sender: f.sender,
    addresses: [...f.addresses],
    addDeliveredTo: f.addDeliveredTo,
  }));
  if (a.t !== 'result') throw new Error('unexpected answer');
  return { status: a.status, dsn: a.dsn, reason: a.reason };
}

export async function remotePass(
  transport: string,
  nexthop: string,
  req: DeliveryRequest,
  rcpt: DeliveryRecipient,
): Promise<RecipientOutcome> {
  const a = await ask(req, (id, call) => ({
    t: 'pass',
    id,
    call,
    transport,
    nexthop,
    index: rcpt.index,
    address: rcpt.address,
  }));
  if (a.t !== 'result') throw new Error('unexpected answer');
  return { index: rcpt.index, status: a.status, dsn: a.dsn, relay: transport, reason: a.reason };
}

/** Content that came with the request: each reader gets it as one chunk. */
function fromBuffer(b: Buffer): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator]: (): AsyncIterator<Buffer> => {
      let given = b.length === 0;
      return {
        next: (): Promise<IteratorResult<Buffer>> => {
          const r: IteratorResult<Buffer> = given ? { done: true, value: undefined } : { done: false, value: b };
          given = true;
          return Promise.resolve(r);
        },
      };
    },
  };
}

async function ask(req: DeliveryRequest, make: (id: number, call: number) => ToCore): Promise<Answer> {
  const c = current.get(req);
  if (!c) throw new Error('no delivery in progress');
  return (await c.server.call(make, c.id)).msg;
}

export class DeliveryServer {
  private readonly waiters = new Map<string, Waiter>();
  private inFlight = 0;
  private nextCall = 1;
  private nextStream = 1;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly write: (frame: Buffer) => void;

  constructor(
    private readonly socket: Socket,
    private readonly agentFor: (service: string) => DeliveryAgent | undefined,
    private readonly log: Logger,
    /** Holds each destination to its concurrency limit when qmgr sends requests ahead (destination-gate.ts). */
    private readonly gate?: { readonly gate: DestinationGate; readonly policy: (transport: string) => GatePolicy },
  ) {
    this.write = corkedWriter(socket);
    socket.on('error', () => undefined); // close follows
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.values()) w.reject(new ChannelClosedError());
      this.waiters.clear();
    });
    readFrames(
      socket,
      MAX_FRAME_TO_DELIVERY,
      (f) => this.onFrame(f.header, f.data),
      (e) => log.warning(`delivery channel: ${e.message}; closing the channel`),
    );
    socket.resume();
  }

  close(): void {
    this.socket.destroy();
  }

  /** Resolves when no delivery is in progress. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private send(msg: ToCore): void {
    if (!this.closed) this.write(encodeFrame(msg));
  }

  private wait(key: string): Promise<{ msg: Answer; data: Buffer }> {
    if (this.closed) return Promise.reject(new ChannelClosedError());
    return new Promise((resolve, reject) => this.waiters.set(key, { resolve, reject }));
  }

  call(make: (id: number, call: number) => ToCore, id: number): Promise<{ msg: Answer; data: Buffer }> {
    const call = this.nextCall++;
    const answer = this.wait(`c${call}`);
    this.send(make(id, call));
    return answer;
  }

  private onFrame(header: unknown, data: Buffer): void {
    const msg = decodeToDelivery(header);
    if (!msg || (msg.t !== 'data' && !(msg.t === 'deliver' && msg.inline) && data.length > 0)) {
      this.log.warning('delivery channel: malformed message from the core worker; closing the channel');
      this.socket.destroy();
      return;
    }
    if (msg.t === 'deliver') {
      void this.deliver(msg, msg.inline ? data : undefined);
      return;
    }
    const key = msg.t === 'local' || msg.t === 'result' ? `c${msg.call}` : `s${msg.id}:${msg.stream}`;
    const w = this.waiters.get(key);
    if (!w) return; // an answer nobody waits for (its delivery ended): harmless
    this.waiters.delete(key);
    w.resolve({ msg, data });
  }

  /** The content of delivery `id`, pulled one chunk per round trip so that memory stays bounded. */
  private openContent(id: number): AsyncIterable<Buffer> {
    const stream = this.nextStream++;
    return { [Symbol.asyncIterator]: () => this.pull(id, stream) };
  }

  private async *pull(id: number, stream: number): AsyncGenerator<Buffer> {
    const key = `s${id}:${stream}`;
    let ended = false;
    try {
      for (;;) {
        const answer = this.wait(key);
        this.send({ t: 'read', id, stream });
        const { msg, data } = await answer;
        if (msg.t === 'eof') {
          ended = true;
          return;
        }
        if (msg.t === 'fail') {
          ended = true;
          throw new Error(`reading the queue file: ${msg.reason}`);
        }
        yield data;
      }
    } finally {
      if (!ended) this.send({ t: 'close', id, stream });
    }
  }

  private async deliver(msg: Extract<ToDelivery, { t: 'deliver' }>, inline: Buffer | undefined): Promise<void> {
    const { id, service, req: w } = msg;
    const defer = (reason: string): WireOutcome[] =>
      w.recipients.map((r) => ({ index: r.index, status: 'deferred', dsn: '4.3.0', relay: 'none', reason }));
    const agent = this.agentFor(service);
    if (!agent) {
      this.log.warning(`${w.queueId}: delivery request for unknown service ${service}`);
      this.send({ t: 'done', id, outcomes: defer('mail transport unavailable') });
      return;
    }
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.send({ t: 'done', id, outcomes: defer('delivery temporarily suspended: too many deliveries in progress') });
      return;
    }
    this.inFlight++;
    const openContent = inline ? () => fromBuffer(inline) : () => this.openContent(id);
    const req: DeliveryRequest = { ...w, openContent };
    let outcomes: WireOutcome[];
    const policy = this.gate?.policy(w.transport);
    const key = policy ? destinationKey(policy, w.transport, w.nexthop, w.recipients) : undefined;
    const gate = this.gate?.gate;
    let held = false;
    let reclaiming: Promise<void> | undefined;
    let slot: WriteSlot | undefined;
    if (gate && policy && key !== undefined) {
      await gate.enter(key, policy.limit);
      held = true;
      // A maildir write lends the slot out while it waits (local/maildir-batch.ts).
      if (policy.limit > 0)
        slot = {
          limit: policy.limit,
          release: () => {
            if (held) gate.leave(key);
            held = false;
          },
          // One slot per delivery, even if two of its writes come back at once.
          reclaim: () =>
            held
              ? Promise.resolve()
              : (reclaiming ??= gate.enter(key, policy.limit, true).then(() => {
                  held = true;
                  reclaiming = undefined;
                })),
          abandoned: () => this.closed,
        };
    }
    try {
      // The core has deferred whatever was waiting when the channel closed: starting it now would duplicate it.
      if (this.closed) throw new ChannelClosedError();
      current.set(req, { server: this, id });
      if (slot) writeSlots.set(req, slot);
      const got = await agent.deliver(req);
      outcomes = got.map((o) => ({ ...o, reason: o.reason.slice(0, 4000) }));
    } catch (e) {
      if (!(e instanceof ChannelClosedError))
        this.log.warning(`${w.queueId}: ${agent.command} delivery failed: ${(e as Error).message}`);
      outcomes = defer('unknown mail transport error');
    } finally {
      if (gate && key !== undefined && held) gate.leave(key);
      this.inFlight--;
      if (this.inFlight === 0) for (const r of this.idleWaiters.splice(0)) r();
    }
    this.send({ t: 'done', id, outcomes });
  }
}
