// verify(8) across the smtpd worker's link: smtpd's reject_unverified_sender/
// _recipient ask the core's verify service (Postfix's "query" on
// private/verify) and wait for a probe's update, over the same socket pair
// as cleanup (link-frame.ts). Only questions cross: updates come from qmgr,
// which lives in the core. Both ends bound what they accept.
import type { Logger } from '../../global/log/logger.js';
import type { AddressVerifier, VerifyAnswer, VerifyStatus } from '../verify/verify-api.js';
import { F, type CorkedWriter, type LinkFrame } from './link-frame.js';
import { isObject } from '../../util/is-object.js';

/** Bounds on verify requests from the smtpd worker (an address, a poll delay). */
const MAX_VERIFY_ADDRESS = 2048;
const MAX_VERIFY_WAIT_MS = 60_000;
const MAX_ANSWER_TEXT = 64 * 1024;
const VERIFY_STATUSES: ReadonlySet<string> = new Set<VerifyStatus>(['ok', 'defer', 'bounce', 'todo']);

function isAnswer(a: unknown): a is VerifyAnswer {
  return (
    isObject(a) &&
    typeof a.status === 'string' &&
    VERIFY_STATUSES.has(a.status) &&
    typeof a.text === 'string' &&
    a.text.length <= MAX_ANSWER_TEXT
  );
}

// ---------------------------------------------------------------- core side

/** Answers a VQUERY (payload: the address) or VWAIT (JSON {address, ms}) frame with `verifier`. */
export function serveVerifyFrame(f: LinkFrame, verifier: AddressVerifier | undefined, out: CorkedWriter): void {
  const id = f.id;
  const failed = (e: unknown): void => out.send(F.VFAILED, id, (e as Error).message);
  let address: string;
  let ms = 0;
  if (f.type === F.VQUERY) address = f.payload.toString('utf8');
  else {
    const v: unknown = JSON.parse(f.payload.toString('utf8'));
    if (!isObject(v) || typeof v.address !== 'string') return failed(new Error('malformed VWAIT frame'));
    address = v.address;
    ms = typeof v.ms === 'number' && v.ms >= 0 ? Math.min(v.ms, MAX_VERIFY_WAIT_MS) : 0;
  }
  if (address.length > MAX_VERIFY_ADDRESS) return failed(new Error('bad address'));
  if (!verifier) return failed(new Error('verify service is not running'));
  if (f.type === F.VQUERY)
    verifier.query(address).then((answer) => out.send(F.VANSWER, id, JSON.stringify(answer)), failed);
  else verifier.settled(address, ms).then(() => out.send(F.VSETTLED, id), failed);
}

// --------------------------------------------------------------- smtpd side

interface Pending {
  resolve(f: LinkFrame): void;
  reject(e: Error): void;
}

/** The AddressVerifier smtpd sessions in the worker use; `out()` is the link's writer while it is up. */
export class VerifyLinkClient implements AddressVerifier {
  /** Only qmgr (in the core) applies this setting. */
  readonly negativeCache = true;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly out: () => CorkedWriter | undefined,
    private readonly log: () => Logger,
  ) {}

  private ask(type: typeof F.VQUERY | typeof F.VWAIT, payload: string): Promise<LinkFrame> {
    const out = this.out();
    if (!out?.open) return Promise.reject(new Error('cleanup channel is not connected'));
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const answer = new Promise<LinkFrame>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    out.send(type, id, payload);
    return answer;
  }

  async query(address: string): Promise<VerifyAnswer> {
    const f = await this.ask(F.VQUERY, address);
    const v: unknown = JSON.parse(f.payload.toString('utf8'));
    if (!isAnswer(v)) throw new Error('cleanup channel: unexpected answer to a verify query');
    return { status: v.status, text: v.text };
  }

  async settled(address: string, ms: number): Promise<void> {
    await this.ask(F.VWAIT, JSON.stringify({ address, ms }));
  }

  update(...[address]: Parameters<AddressVerifier['update']>): Promise<void> {
    return Promise.reject(new Error(`verify update for ${address}: not accepted from the smtpd worker`));
  }

  /** A VANSWER, VSETTLED or VFAILED frame; the payload is copied or parsed before this returns. */
  onFrame(f: LinkFrame): void {
    const p = this.pending.get(f.id);
    if (!p) {
      this.log().warning(`cleanup channel: verify answer ${f.id} that nobody asked for`);
      return;
    }
    this.pending.delete(f.id);
    if (f.type === F.VFAILED) p.reject(new Error(f.payload.toString('utf8')));
    else p.resolve({ type: f.type, id: f.id, payload: Buffer.from(f.payload) });
  }

  /** The link dropped: nothing asked will be answered. */
  failAll(why: string): void {
    for (const p of this.pending.values()) p.reject(new Error(why));
    this.pending.clear();
  }
}
