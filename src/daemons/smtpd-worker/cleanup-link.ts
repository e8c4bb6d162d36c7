// cleanup(8) across a process boundary: when smtpd sessions run in their own
// worker process (next to the core worker that owns the queue), smtpd reaches
// cleanup through this link instead of the in-process ServiceDirectory. The
// smtpd side is a CleanupService proxy; the core side serves it with the real
// cleanup service. Framing is the delivery channel's (u32 length, JSON
// header, raw bytes), so message content travels as bytes. Durability is the
// core's: commit() resolves on the smtpd side only after the core's commit()
// resolved, so smtpd's 250 still means "on stable storage".
// The same channel carries smtpd's questions to verify(8) (reject_unverified_*:
// query, and wait for an update), answered by the core's verify service.
import type { Socket } from 'node:net';
import type { Logger } from '../../global/log/logger.js';
import type {
  CleanupOpenRequest,
  CleanupPolicyActions,
  CleanupService,
  CleanupTransaction,
  CleanupVerdict,
  EnvelopeRecipient,
} from '../../global/queue/cleanup-api.js';
import { encodeFrame, readFrames, type Frame } from '../delivery/frame.js';
import type { AddressVerifier, VerifyAnswer, VerifyStatus } from '../verify/verify-api.js';

/** smtpd → core frames carry content; core → smtpd frames only verdicts. */
const MAX_FRAME_TO_CORE = 4 * 1024 * 1024;
const MAX_FRAME_TO_SMTPD = 256 * 1024;
/** Content is sent on once this much is buffered (or at the end of the event-loop turn). */
const WRITE_FRAME_BYTES = 64 * 1024;

type ToCore =
  | { t: 'open'; id: number; req: CleanupOpenRequest }
  | { t: 'rcpt'; id: number; rcpt: EnvelopeRecipient }
  | { t: 'write'; id: number }
  | { t: 'commit'; id: number; actions?: CleanupPolicyActions }
  | { t: 'abort'; id: number }
  | { t: 'vquery'; id: number; address: string }
  | { t: 'vwait'; id: number; address: string; ms: number };

type ToSmtpd =
  | { t: 'opened'; id: number; queueId: string }
  | { t: 'verdict'; id: number; verdict: CleanupVerdict }
  | { t: 'aborted'; id: number }
  | { t: 'failed'; id: number; error: string }
  | { t: 'vanswer'; id: number; answer: VerifyAnswer }
  | { t: 'vsettled'; id: number };

/** Bounds on verify requests from the smtpd worker (an address, a poll delay). */
const MAX_VERIFY_ADDRESS = 2048;
const MAX_VERIFY_WAIT_MS = 60_000;
const VERIFY_STATUSES: ReadonlySet<string> = new Set<VerifyStatus>(['ok', 'defer', 'bounce', 'todo']);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Writes frames, coalescing those of one event-loop turn into one writev. */
class FrameWriter {
  private corked = false;
  constructor(private readonly socket: Socket) {}
  send(header: unknown, data?: Buffer): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(encodeFrame(header, data));
  }
}

// ---------------------------------------------------------------- core side

/**
 * Serve cleanup requests from an smtpd worker on `socket` with `cleanup()`
 * (looked up per open), and its verify(8) questions with `verify()`.
 */
export function serveCleanup(
  socket: Socket,
  cleanup: () => CleanupService | undefined,
  log: Logger,
  verify: () => AddressVerifier | undefined = () => undefined,
): void {
  const out = new FrameWriter(socket);
  /** Operations of one transaction run in order; open is asynchronous. */
  const txs = new Map<number, { tx: Promise<CleanupTransaction | undefined> }>();
  const fail = (id: number, e: unknown): void => {
    txs.delete(id);
    out.send({ t: 'failed', id, error: (e as Error).message } satisfies ToSmtpd);
  };
  const onFrame = (f: Frame): void => {
    const h = f.header;
    if (!isObj(h) || typeof h.id !== 'number' || typeof h.t !== 'string') {
      log.warning('smtpd channel: malformed frame; closing the channel');
      socket.destroy();
      return;
    }
    const m = h as ToCore;
    const id = m.id;
    if (m.t === 'vquery' || m.t === 'vwait') {
      serveVerify(m, verify(), out);
      return;
    }
    if (m.t === 'open') {
      const svc = cleanup();
      const tx = svc ? svc.open(m.req) : Promise.reject(new Error('cleanup service is not running'));
      const entry = { tx: tx.then(undefined, () => undefined) };
      txs.set(id, entry);
      tx.then(
        (t) => out.send({ t: 'opened', id, queueId: t.queueId } satisfies ToSmtpd),
        (e: unknown) => fail(id, e),
      );
      return;
    }
    const entry = txs.get(id);
    if (!entry) return; // already failed or finished: the peer learns from the 'failed' frame
    entry.tx = entry.tx.then(async (tx) => {
      if (!tx) return undefined;
      try {
        switch (m.t) {
          case 'rcpt':
            tx.addRecipient(m.rcpt);
            return tx;
          case 'write':
            tx.write(f.data);
            return tx;
          case 'commit': {
            txs.delete(id);
            const verdict = await tx.commit(m.actions);
            out.send({ t: 'verdict', id, verdict } satisfies ToSmtpd);
            return undefined;
          }
          case 'abort':
            txs.delete(id);
            await tx.abort();
            out.send({ t: 'aborted', id } satisfies ToSmtpd);
            return undefined;
          default:
            return tx;
        }
      } catch (e) {
        fail(id, e);
        await tx.abort().catch(() => undefined);
        return undefined;
      }
    });
  };
  readFrames(socket, MAX_FRAME_TO_CORE, onFrame, (e) => log.warning(`smtpd channel: ${e.message}`));
  // The smtpd worker went away: its open transactions can never commit.
  socket.on('close', () => {
    for (const entry of txs.values()) void entry.tx.then((tx) => tx?.abort()).catch(() => undefined);
    txs.clear();
  });
  socket.on('error', () => undefined);
  socket.resume();
}

function serveVerify(
  m: Extract<ToCore, { t: 'vquery' | 'vwait' }>,
  v: AddressVerifier | undefined,
  out: FrameWriter,
): void {
  const id = m.id;
  const failed = (e: unknown): void => out.send({ t: 'failed', id, error: (e as Error).message } satisfies ToSmtpd);
  if (typeof m.address !== 'string' || m.address.length > MAX_VERIFY_ADDRESS) return failed(new Error('bad address'));
  if (!v) return failed(new Error('verify service is not running'));
  if (m.t === 'vquery') {
    v.query(m.address).then((answer) => out.send({ t: 'vanswer', id, answer } satisfies ToSmtpd), failed);
    return;
  }
  const ms = typeof m.ms === 'number' && m.ms >= 0 ? Math.min(m.ms, MAX_VERIFY_WAIT_MS) : 0;
  v.settled(m.address, ms).then(() => out.send({ t: 'vsettled', id } satisfies ToSmtpd), failed);
}

// --------------------------------------------------------------- smtpd side

interface Waiter {
  resolve(v: ToSmtpd): void;
  reject(e: Error): void;
}

/** The CleanupService an smtpd worker gives its sessions. */
export class CleanupLink implements CleanupService {
  private socket: Socket | undefined;
  private out: FrameWriter | undefined;
  private nextId = 1;
  /** Per transaction, the answers awaited in order: `opened`, then the verdict. */
  private readonly waiters = new Map<number, Waiter[]>();

  constructor(private readonly log: Logger) {}

  /**
   * verify(8) as the smtpd worker sees it: queries and waits go to the core's
   * verify service; updates come only from qmgr, in the core.
   */
  readonly verifier: AddressVerifier = {
    negativeCache: true,
    query: async (address) => {
      const id = this.nextId++;
      const answer = this.reply(id);
      answer.catch(() => undefined); // when the send below throws, its error is the one reported
      this.send({ t: 'vquery', id, address });
      const m = await answer;
      if (m.t !== 'vanswer' || !isAnswer(m.answer))
        throw new Error('cleanup channel: unexpected answer to a verify query');
      return { status: m.answer.status, text: m.answer.text };
    },
    settled: async (address, ms) => {
      const id = this.nextId++;
      const answer = this.reply(id);
      answer.catch(() => undefined); // when the send below throws, its error is the one reported
      this.send({ t: 'vwait', id, address, ms });
      await answer;
    },
    update: () => Promise.reject(new Error('verify updates are not accepted from the smtpd worker')),
  };

  setChannel(socket: Socket): void {
    this.close();
    this.socket = socket;
    this.out = new FrameWriter(socket);
    readFrames(
      socket,
      MAX_FRAME_TO_SMTPD,
      (f) => this.onFrame(f),
      (e) => this.log.warning(`cleanup channel: ${e.message}`),
    );
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.out = undefined;
      this.failAll('cleanup channel closed');
    });
    socket.on('error', () => undefined);
    socket.resume();
  }

  close(): void {
    this.socket?.destroy();
  }

  private failAll(why: string): void {
    for (const list of this.waiters.values()) for (const w of list) w.reject(new Error(why));
    this.waiters.clear();
  }

  private onFrame(f: Frame): void {
    const h = f.header;
    if (!isObj(h) || typeof h.id !== 'number') return;
    const list = this.waiters.get(h.id);
    if (!list) return;
    const m = h as ToSmtpd;
    if (m.t === 'failed') {
      this.waiters.delete(h.id);
      for (const w of list) w.reject(new Error(m.error));
      return;
    }
    list.shift()?.resolve(m);
    if (list.length === 0) this.waiters.delete(h.id);
  }

  private send(m: ToCore, data?: Buffer): void {
    if (!this.out) throw new Error('cleanup channel is not connected');
    this.out.send(m, data);
  }

  private reply(id: number): Promise<ToSmtpd> {
    return new Promise((resolve, reject) => {
      if (!this.out) return reject(new Error('cleanup channel is not connected'));
      const list = this.waiters.get(id);
      if (list) list.push({ resolve, reject });
      else this.waiters.set(id, [{ resolve, reject }]);
    });
  }

  async open(req: CleanupOpenRequest): Promise<CleanupTransaction> {
    const id = this.nextId++;
    const answer = this.reply(id);
    // Registered now, so that a failure arriving right behind `opened` is not lost; it reaches commit() or abort().
    let done: Promise<ToSmtpd> = this.reply(id);
    done.catch(() => undefined);
    this.send({ t: 'open', id, req });
    const opened = await answer;
    if (opened.t !== 'opened') throw new Error('cleanup channel: unexpected answer to open');
    const link = this.out;
    // smtpd writes line by line: lines of one event-loop turn (one socket read) travel as one frame.
    let lines: Buffer[] = [];
    let bytes = 0;
    let scheduled = false;
    const flush = (): void => {
      scheduled = false;
      if (lines.length === 0) return;
      const data = lines.length === 1 ? (lines[0] as Buffer) : Buffer.concat(lines, bytes);
      lines = [];
      bytes = 0;
      if (this.out === link) this.send({ t: 'write', id }, data);
    };
    const send = (m: ToCore, data?: Buffer): void => {
      flush();
      if (this.out === link) this.send(m, data);
    };
    return {
      queueId: opened.queueId,
      addRecipient: (rcpt) => send({ t: 'rcpt', id, rcpt }),
      write: (chunk) => {
        lines.push(chunk);
        bytes += chunk.length;
        if (bytes >= WRITE_FRAME_BYTES) flush();
        else if (!scheduled) {
          scheduled = true;
          process.nextTick(flush);
        }
      },
      commit: async (actions) => {
        send(actions ? { t: 'commit', id, actions } : { t: 'commit', id });
        const v = await done;
        if (v.t !== 'verdict') throw new Error('cleanup channel: unexpected answer to commit');
        return v.verdict;
      },
      abort: async () => {
        send({ t: 'abort', id });
        done = done.catch(() => ({ t: 'aborted', id }) as const);
        await done;
      },
    };
  }
}

function isAnswer(a: unknown): a is VerifyAnswer {
  return (
    isObj(a) &&
    typeof a.status === 'string' &&
    VERIFY_STATUSES.has(a.status) &&
    typeof a.text === 'string' &&
    a.text.length <= MAX_FRAME_TO_SMTPD
  );
}
