// cleanup(8) across a process boundary, smtpd's side: when smtpd sessions run
// in their own worker process (postern_smtpd_workers), this CleanupService
// proxy stands where the in-process cleanup would be, and the core worker
// serves it (core-link-server.ts) over a socket pair made by master.
//
// Cost per message is what matters here, so a transaction costs one round
// trip, the one smtpd must wait for anyway: commit → durable verdict. Open
// needs none: the core hands out reserved queue IDs in advance (IDS), so
// open() names the message at once (smtpd logs `client=` and writes
// Received: with it); recipients and content collect here and travel with
// the first content frame or the commit (BEGIN, DATA, COMMIT in one writev).
// A transaction aborted before that never reaches the core beyond giving its
// queue ID back. If the link drops, transactions in progress fail (smtpd
// answers 451) and the core aborts its side: nothing is half-queued.
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
import type { QueueFlusher } from '../../global/queue/service-keys.js';
import type { SmtpReply } from '../../global/smtp/reply.js';
import { CorkedWriter, encode, F, HEADER_BYTES, readLinkFrames, writeHeader, type LinkFrame } from './link-frame.js';
import { VerifyLinkClient } from './verify-link.js';

/** core → smtpd frames are verdicts and queue-ID lists only. */
export const MAX_FRAME_TO_SMTPD = 256 * 1024;
/** Content is sent on once this much is buffered (and at commit). */
const DATA_FRAME_BYTES = 64 * 1024;
/** Queue IDs asked for at a time, and the stock below which more are asked for. */
const ID_BATCH = 64;
const ID_LOW = 16;
/** Recipients per BEGIN or RCPT frame: keeps frames far below the core's limit whatever smtpd_recipient_limit says. */
const RCPTS_PER_FRAME = 1000;

interface Verdict {
  resolve(v: CleanupVerdict): void;
  reject(e: Error): void;
}

/** One smtpd transaction as the link sees it. */
class LinkTransaction implements CleanupTransaction {
  private begun = false;
  private finished = false;
  private rcpts: EnvelopeRecipient[] = [];
  /** Content not sent yet, behind room for the frame header. */
  private buf: Buffer | undefined;
  private used = HEADER_BYTES;
  /** Set when the core reported a failure before the commit. */
  failure: string | undefined;
  verdict: Verdict | undefined;

  constructor(
    private readonly link: CleanupLink,
    private readonly out: CorkedWriter,
    readonly id: number,
    private readonly req: CleanupOpenRequest & { queueId: string },
  ) {}

  get queueId(): string {
    return this.req.queueId;
  }

  private usable(): void {
    if (this.finished) throw new Error(`${this.queueId}: transaction already finished`);
    if (this.failure !== undefined) throw new Error(this.failure);
    if (!this.out.open) throw new Error('cleanup channel closed');
  }

  addRecipient(rcpt: EnvelopeRecipient): void {
    this.usable();
    if (rcpt.address === '') throw new Error(`${this.queueId}: empty recipient address`);
    this.rcpts.push(rcpt);
    if (this.begun) this.sendRecipients();
  }

  write(lines: Buffer): void {
    this.usable();
    if (this.used + lines.length > DATA_FRAME_BYTES + HEADER_BYTES) this.flush();
    if (lines.length > DATA_FRAME_BYTES) {
      // A huge chunk (smtpd's lines are bounded, a BDAT chunk need not be) goes on in frame-sized pieces;
      // cleanup joins the pieces again, so where they are cut does not matter.
      this.begin();
      this.sendRecipients();
      for (let off = 0; off < lines.length; off += DATA_FRAME_BYTES)
        this.out.send(F.DATA, this.id, lines.subarray(off, off + DATA_FRAME_BYTES));
      return;
    }
    if (!this.buf || this.used + lines.length > this.buf.length) {
      // Start small (most messages are a few KiB) and double up to the frame size.
      const size = Math.min(
        Math.max((this.buf?.length ?? 2048) * 2, this.used + lines.length),
        DATA_FRAME_BYTES + HEADER_BYTES,
      );
      const bigger = Buffer.allocUnsafe(size);
      this.buf?.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    lines.copy(this.buf, this.used);
    this.used += lines.length;
  }

  private begin(): void {
    if (this.begun) return;
    this.begun = true;
    const first = this.rcpts.splice(0, RCPTS_PER_FRAME);
    this.out.send(F.BEGIN, this.id, JSON.stringify({ req: this.req, rcpts: first }));
    this.sendRecipients();
  }

  private sendRecipients(): void {
    while (this.rcpts.length > 0) this.out.send(F.RCPT, this.id, JSON.stringify(this.rcpts.splice(0, RCPTS_PER_FRAME)));
  }

  /** Send what has collected; the buffer goes with the frame (the socket holds it until written). */
  private flush(): void {
    this.begin();
    this.sendRecipients();
    if (!this.buf || this.used === HEADER_BYTES) return;
    writeHeader(this.buf, F.DATA, this.id, this.used - HEADER_BYTES);
    this.out.write(this.buf.subarray(0, this.used));
    this.buf = undefined;
    this.used = HEADER_BYTES;
  }

  commit(actions?: CleanupPolicyActions): Promise<CleanupVerdict> {
    try {
      this.usable();
    } catch (e) {
      this.finished = true;
      this.link.forget(this);
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    this.finished = true;
    this.flush();
    const payload = actions && Object.keys(actions).length > 0 ? JSON.stringify(actions) : undefined;
    const answer = new Promise<CleanupVerdict>((resolve, reject) => (this.verdict = { resolve, reject }));
    this.out.send(F.COMMIT, this.id, payload);
    return answer;
  }

  abort(): Promise<void> {
    if (this.finished) return Promise.resolve();
    this.finished = true;
    this.buf = undefined;
    this.link.forget(this);
    if (this.begun) this.out.send(F.ABORT, this.id);
    else this.out.send(F.RELEASE, 0, this.queueId);
    return Promise.resolve();
  }
}

/** The CleanupService (and, for ETRN, the QueueFlusher) an smtpd worker gives its sessions. */
export class CleanupLink implements CleanupService, QueueFlusher {
  private socket: Socket | undefined;
  private out: CorkedWriter | undefined;
  private nextId = 1;
  /** Transactions that may still hear from the core. */
  private readonly live = new Map<number, LinkTransaction>();
  private ids: string[] = [];
  private asked = false;
  private idWaiters: { resolve(id: string): void; reject(e: Error): void }[] = [];
  /** Told when the link comes up or goes down (ETRN is offered only while it is up). */
  onState: ((up: boolean) => void) | undefined;
  /** verify(8) as smtpd sessions in this process see it: questions to the core's service. */
  readonly verifier = new VerifyLinkClient(
    () => this.out,
    () => this.log,
  );

  constructor(private log: Logger) {}

  setLogger(log: Logger): void {
    this.log = log;
  }

  get connected(): boolean {
    return this.out?.open === true;
  }

  setChannel(socket: Socket): void {
    this.close();
    this.socket = socket;
    const out = new CorkedWriter(socket);
    this.out = out;
    readLinkFrames(
      socket,
      MAX_FRAME_TO_SMTPD,
      (f) => this.onFrame(f),
      (e) => this.log.warning(`cleanup channel: ${e.message}; closing it`),
    );
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.out = undefined;
      this.failAll('cleanup channel closed');
      this.onState?.(false);
    });
    socket.on('error', (e) => this.log.warning(`cleanup channel: ${e.message}`));
    socket.resume();
    this.onState?.(true);
  }

  close(): void {
    this.socket?.destroy();
  }

  private failAll(why: string): void {
    this.ids = [];
    this.asked = false;
    for (const w of this.idWaiters.splice(0)) w.reject(new Error(why));
    this.verifier.failAll(why);
    for (const tx of this.live.values()) {
      tx.failure = why;
      tx.verdict?.reject(new Error(why));
    }
    this.live.clear();
  }

  forget(tx: LinkTransaction): void {
    this.live.delete(tx.id);
  }

  private onFrame(f: LinkFrame): void {
    if (f.type === F.IDS) {
      this.asked = false;
      const text = f.payload.toString('latin1');
      if (text === '') {
        for (const w of this.idWaiters.splice(0)) w.reject(new Error('cleanup service is not running'));
        return;
      }
      this.ids.push(...text.split(' '));
      while (this.idWaiters.length > 0 && this.ids.length > 0) this.idWaiters.shift()?.resolve(this.ids.shift() ?? '');
      this.refill();
      return;
    }
    if (f.type === F.VANSWER || f.type === F.VSETTLED || f.type === F.VFAILED) {
      this.verifier.onFrame(f);
      return;
    }
    const tx = this.live.get(f.id);
    if (!tx) return; // aborted here meanwhile, or the link's earlier life
    let verdict: CleanupVerdict;
    switch (f.type) {
      case F.QUEUED:
        verdict = { status: 'queued', queueId: tx.queueId };
        break;
      case F.DISCARDED:
        verdict = { status: 'discarded', queueId: tx.queueId };
        break;
      case F.REJECTED:
        verdict = { status: 'rejected', reply: parseReply(f.payload) };
        break;
      case F.FAILED: {
        const why = f.payload.toString('utf8');
        this.live.delete(f.id);
        tx.failure = why;
        tx.verdict?.reject(new Error(why));
        return;
      }
      default:
        this.log.warning(`cleanup channel: unexpected frame type ${f.type}; closing it`);
        this.close();
        return;
    }
    this.live.delete(f.id);
    if (tx.verdict) tx.verdict.resolve(verdict);
  }

  private refill(): void {
    if (this.asked || !this.out || this.ids.length >= ID_LOW) return;
    this.asked = true;
    this.out.send(F.WANT, ID_BATCH);
  }

  private async queueId(): Promise<string> {
    const id = this.ids.shift();
    this.refill();
    if (id !== undefined) return id;
    return new Promise((resolve, reject) => this.idWaiters.push({ resolve, reject }));
  }

  async open(req: CleanupOpenRequest): Promise<CleanupTransaction> {
    const out = this.out;
    if (!out) throw new Error('cleanup channel is not connected');
    const queueId = await this.queueId();
    if (this.out !== out) throw new Error('cleanup channel closed');
    const tx = new LinkTransaction(this, out, this.nextId++ >>> 0, { ...req, queueId });
    if (this.nextId > 0xffffffff) this.nextId = 1;
    this.live.set(tx.id, tx);
    return tx;
  }

  /** ETRN: the core's qmgr retries the site's deferred mail. */
  flush(site?: string): void {
    if (!this.out) throw new Error('cleanup channel is not connected');
    this.out.write(encode(F.FLUSH, 0, site ?? ''));
  }
}

function parseReply(payload: Buffer): SmtpReply {
  try {
    const v = JSON.parse(payload.toString('utf8')) as Partial<SmtpReply>;
    if (typeof v.code === 'number' && typeof v.text === 'string')
      return { code: v.code, dsn: typeof v.dsn === 'string' ? v.dsn : '', text: v.text };
  } catch {
    // fall through
  }
  return { code: 451, dsn: '4.3.0', text: 'Error: queue file write error' };
}
