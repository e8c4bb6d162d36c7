// Long-lived mailbox writers (native/postern-deliver.c `serve`), one process
// per recipient identity, reused for many deliveries. Starting a process per
// delivery was local(8)'s main cost; Postfix avoids it by switching uid inside
// a running process, which Node cannot do, so the delivery process keeps a
// bounded set of helpers each started as one (uid, gid) with no supplementary
// groups (what spawn() gives a child) and sends it requests over its
// stdin/stdout. A helper serves one request at a time; an identity may have a
// few helpers so concurrent deliveries to one user are not serialised.
// Helpers close after an idle time; at the global limit the least recently
// used idle helper is closed, and when all are busy the caller falls back to a
// single-shot helper. A helper never serves another identity: the pool key is
// the exact uid:gid it was started with. Touches: processes.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Socket } from 'node:net';

export interface HelperIdentity {
  readonly uid?: number;
  readonly gid?: number;
}

export interface HelperResponse {
  /** Exit status of the request's child (0 ok, 1 failure line), 128+signal, or -1 when the helper died. */
  readonly status: number;
  readonly output: Buffer;
  readonly stderr: string;
}

export interface PoolLimits {
  /** Helpers alive at once, over all identities. */
  readonly maxHelpers: number;
  /** Helpers per identity (concurrent deliveries as one user). */
  readonly perIdentity: number;
  readonly idleMs: number;
  /** Longest one request may take (lock waits are bounded by deliver_lock_attempts × delay). */
  readonly requestMs: number;
}

export const DEFAULT_POOL_LIMITS: PoolLimits = {
  maxHelpers: 32,
  perIdentity: 4,
  idleMs: 60_000,
  requestMs: 10 * 60_000,
};

const CHUNK = 64 * 1024;
const MAX_RESPONSE = 4 * 1024 * 1024 + 16;

function len32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
}

/**
 * One request in the helper's framing: the content length and the arguments,
 * NUL-terminated, then content chunks and a zero length. The helper delivers
 * nothing whose content ends short of the announced length.
 */
export function encodeRequest(args: readonly string[], input: Buffer | readonly Buffer[] | undefined): Buffer[] {
  for (const a of args) if (a.includes('\0')) throw new Error('helper argument contains NUL');
  // A batch's files arrive as separate buffers: they are framed where they lie, never joined first.
  const pieces = input === undefined ? [] : Buffer.isBuffer(input) ? [input] : input;
  let total = 0;
  for (const p of pieces) total += p.length;
  const head = Buffer.from([String(total), ...args].map((a) => `${a}\0`).join(''), 'utf8');
  const parts = [len32(head.length), head];
  let frame: Buffer[] = [];
  let size = 0;
  const flush = (): void => {
    if (size === 0) return;
    parts.push(len32(size), ...frame);
    frame = [];
    size = 0;
  };
  for (const p of pieces) {
    for (let off = 0; off < p.length;) {
      const take = Math.min(CHUNK - size, p.length - off);
      frame.push(off === 0 && take === p.length ? p : p.subarray(off, off + take));
      size += take;
      off += take;
      if (size === CHUNK) flush();
    }
  }
  flush();
  parts.push(len32(0));
  return parts;
}

interface Pending {
  resolve: (r: HelperResponse) => void;
  timer: NodeJS.Timeout;
}

class Helper {
  readonly child: ChildProcessWithoutNullStreams;
  private buf: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  private stderr = '';
  private idleTimer: NodeJS.Timeout | undefined;
  dead = false;
  lastUsed = Date.now();
  served = 0;

  constructor(
    path: string,
    readonly key: string,
    who: HelperIdentity,
    private readonly limits: PoolLimits,
    private readonly onGone: (h: Helper) => void,
  ) {
    this.child = spawn(path, ['serve'], {
      uid: who.uid,
      gid: who.gid,
      cwd: '/',
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout.on('data', (b: Buffer) => this.onData(b));
    this.child.stderr.on('data', (b: Buffer) => {
      if (this.stderr.length < 1000) this.stderr += b.toString('utf8');
    });
    this.child.stdin.on('error', () => undefined);
    // An idle helper must not keep the process alive; a request in flight does (its timer is referenced).
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) if (s instanceof Socket) s.unref();
    this.child.on('error', (e) => this.die(`cannot run delivery helper: ${e.message}`));
    // 'exit', not 'close': a request's child may still hold the helper's stderr open.
    this.child.on('exit', (code, signal) =>
      this.die(`delivery helper ${signal ? `killed by signal ${signal}` : `exit status ${code ?? '?'}`}`),
    );
    this.armIdle();
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  request(args: readonly string[], input: Buffer | readonly Buffer[] | undefined): Promise<HelperResponse> {
    if (this.pending || this.dead) throw new Error('helper not available');
    clearTimeout(this.idleTimer);
    this.lastUsed = Date.now();
    this.served++;
    this.stderr = '';
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), this.limits.requestMs);
      this.pending = { resolve, timer };
      // One write(2) for the whole request: each separate write wakes the helper once more.
      this.child.stdin.write(Buffer.concat(encodeRequest(args, input)));
    });
  }

  close(): void {
    clearTimeout(this.idleTimer);
    if (!this.dead) this.child.stdin.end();
    this.markGone();
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.close(), this.limits.idleMs);
    this.idleTimer.unref();
  }

  private markGone(): void {
    if (this.dead) return;
    this.dead = true;
    this.onGone(this);
  }

  private onData(b: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, b]) : b;
    if (this.buf.length >= 4) {
      const n = this.buf.readUInt32BE(0);
      // The helper never sends this: treat it as broken rather than buffer without bound.
      if (n < 4 || n > MAX_RESPONSE) return void this.child.kill('SIGKILL');
      if (this.buf.length < 4 + n) return;
      const status = this.buf.readUInt32BE(4);
      const output = Buffer.from(this.buf.subarray(8, 4 + n));
      const rest = this.buf.subarray(4 + n);
      this.buf = rest;
      const p = this.pending;
      if (!p || rest.length) return void this.child.kill('SIGKILL');
      this.pending = undefined;
      clearTimeout(p.timer);
      this.armIdle();
      p.resolve({ status, output, stderr: this.stderr });
    }
  }

  private die(reason: string): void {
    clearTimeout(this.idleTimer);
    this.markGone();
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      p.resolve({
        status: -1,
        output: Buffer.alloc(0),
        stderr: `${reason}${this.stderr ? `: ${this.stderr.trim()}` : ''}`,
      });
    }
  }
}

export interface PoolStats {
  /** Helpers started since the pool was made. */
  readonly started: number;
  readonly alive: number;
  /** Requests that found every helper busy at the limit and ran single-shot. */
  readonly overflow: number;
  /** pid → identity key of the helpers alive now. */
  readonly helpers: ReadonlyArray<{
    readonly pid: number | undefined;
    readonly key: string;
    readonly served: number;
    readonly busy: boolean;
  }>;
}

export class HelperPool {
  private readonly byKey = new Map<string, Helper[]>();
  private alive = 0;
  private started = 0;
  private overflow = 0;

  constructor(
    private readonly path: string,
    readonly limits: PoolLimits = DEFAULT_POOL_LIMITS,
  ) {}

  static keyOf(who: HelperIdentity): string {
    return who.uid === undefined ? 'self' : `${who.uid}:${who.gid ?? who.uid}`;
  }

  /** The response, or undefined when every helper is busy and no new one may start (run single-shot). */
  run(
    who: HelperIdentity,
    args: readonly string[],
    input: Buffer | readonly Buffer[] | undefined,
  ): Promise<HelperResponse> | undefined {
    const helper = this.acquire(who);
    if (!helper) {
      this.overflow++;
      return undefined;
    }
    return helper.request(args, input);
  }

  stats(): PoolStats {
    const helpers = [...this.byKey.values()]
      .flat()
      .map((h) => ({ pid: h.pid, key: h.key, served: h.served, busy: h.busy }));
    return { started: this.started, alive: this.alive, overflow: this.overflow, helpers };
  }

  closeAll(): void {
    for (const list of [...this.byKey.values()]) for (const h of [...list]) h.close();
  }

  private acquire(who: HelperIdentity): Helper | undefined {
    const key = HelperPool.keyOf(who);
    const list = this.byKey.get(key) ?? [];
    const idle = list.find((h) => !h.busy && !h.dead);
    if (idle) return idle;
    if (list.length >= this.limits.perIdentity) return undefined;
    if (this.alive >= this.limits.maxHelpers && !this.evictIdle()) return undefined;
    const h = new Helper(this.path, key, who, this.limits, (gone) => this.forget(gone));
    this.alive++;
    this.started++;
    this.byKey.set(key, [...list, h]);
    return h;
  }

  private evictIdle(): boolean {
    let lru: Helper | undefined;
    for (const list of this.byKey.values())
      for (const h of list) if (!h.busy && !h.dead && (!lru || h.lastUsed < lru.lastUsed)) lru = h;
    if (!lru) return false;
    lru.close();
    return true;
  }

  private forget(h: Helper): void {
    const list = this.byKey.get(h.key);
    if (!list) return;
    const rest = list.filter((x) => x !== h);
    if (rest.length === list.length) return;
    this.alive--;
    if (rest.length) this.byKey.set(h.key, rest);
    else this.byKey.delete(h.key);
  }
}
