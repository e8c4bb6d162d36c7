// One socket to one SMTP/LMTP server: connecting (TCP with optional source
// address, or a UNIX-domain socket), reading replies line by line with a
// deadline, writing with back-pressure, and switching to TLS after STARTTLS.
// Errors are classified the way Postfix words them in status reasons.
import { createConnection, isIPv6, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

/** A parsed server reply; `text` joins the lines of a multi-line reply with spaces. */
export interface ServerReply {
  readonly code: number;
  /** Enhanced status code from the reply, or derived from the code class (`5.0.0`). */
  readonly dsn: string;
  readonly lines: readonly string[];
  /** The reply as Postfix quotes it: `550 5.1.1 <x@y>: User unknown`. */
  readonly text: string;
}

/** The peer went away or went quiet; `kind` picks Postfix's wording. */
export class SessionError extends Error {
  override name = 'SessionError';
  constructor(readonly kind: 'lost' | 'timeout' | 'protocol') {
    super(kind);
  }
}

export class ConnectError extends Error {
  override name = 'ConnectError';
}

/** Replies longer than this are cut (Postfix keeps a few KB of reply text). */
const MAX_LINE = 4096;
const MAX_REPLY_LINES = 500;
/** A reply line: three digits, then `-` (more follow), a space or nothing, and text (no stray CR). */
const REPLY_LINE = /^[2-5]\d\d.*$/;
/** An enhanced status code at the start of a reply's text (RFC 3463), and as repeated on continuation lines. */
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)/;
const REPEATED_ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ECONNRESET: 'Connection reset by peer',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  ECONNABORTED: 'Software caused connection abort',
};

export function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (code && ERRNO_TEXT[code]) ?? (e as Error).message;
}

export interface ConnectTarget {
  readonly address: string;
  readonly port: number;
  readonly unix: boolean;
  /** Local address to bind (smtp_bind_address / smtp_bind_address6). */
  readonly localAddress?: string;
}

export class SmtpConnection {
  private socket: Socket | TLSSocket;
  private buf = '';
  private readonly lines: string[] = [];
  private closed = false;
  private wake: (() => void) | undefined;
  /** When the reply being waited for is overdue (ms). */
  private waitDeadline = 0;
  // One timer per connection, not one per reply: it is moved only when a wait
  // must end before it fires, and a wait that ends first leaves it running.
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private readonly onData = (chunk: Buffer): void => this.push(chunk);
  private readonly onGone = (): void => {
    this.closed = true;
    this.stopTimer();
    this.wake?.();
  };
  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (!this.wake) return;
    const now = Date.now();
    if (now >= this.waitDeadline) this.wake();
    else this.armTimer(this.waitDeadline, now);
  };
  readonly createdAt = Date.now();
  /** Completed mail transactions on this connection (for reuse limits). */
  transactions = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  get tls(): TLSSocket | undefined {
    return 'encrypted' in this.socket ? this.socket : undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  static connect(t: ConnectTarget, timeoutSec: number): Promise<SmtpConnection> {
    return new Promise((resolve, reject) => {
      const sock = t.unix
        ? createConnection({ path: t.address })
        : createConnection({
            host: t.address,
            port: t.port,
            ...(t.localAddress ? { localAddress: t.localAddress } : {}),
            family: isIPv6(t.address) ? 6 : 4,
          });
      // A timeout of 0 means none (lmtp_connect_timeout's default).
      const timer =
        timeoutSec > 0
          ? setTimeout(() => {
              sock.destroy();
              reject(new ConnectError('Connection timed out'));
            }, timeoutSec * 1000)
          : undefined;
      sock.once('error', (e) => {
        clearTimeout(timer);
        sock.destroy();
        reject(new ConnectError(errnoText(e)));
      });
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new SmtpConnection(sock));
      });
    });
  }

  private attach(s: Socket): void {
    s.on('data', this.onData);
    s.on('close', this.onGone);
    s.on('end', this.onGone);
    s.on('error', this.onGone);
  }

  private detach(s: Socket): void {
    s.off('data', this.onData);
    s.off('close', this.onGone);
    s.off('end', this.onGone);
    s.off('error', this.onGone);
  }

  private push(chunk: Buffer): void {
    const buf = this.buf + chunk.toString('latin1');
    let start = 0;
    let i: number;
    while ((i = buf.indexOf('\n', start)) >= 0) {
      const end = i > start && buf.charCodeAt(i - 1) === 0x0d ? i - 1 : i;
      this.lines.push(buf.slice(start, Math.min(end, start + MAX_LINE)));
      start = i + 1;
    }
    this.buf = start > 0 ? buf.slice(start) : buf;
    // A server that never ends its line cannot make us buffer without bound.
    if (this.buf.length > MAX_LINE) {
      this.lines.push(this.buf.slice(0, MAX_LINE));
      this.buf = '';
    }
    this.wake?.();
  }

  private async readLine(deadline: number): Promise<string> {
    for (;;) {
      const line = this.lines.shift();
      if (line !== undefined) return line;
      if (this.closed) throw new SessionError('lost');
      const now = Date.now();
      if (deadline <= now) throw new SessionError('timeout');
      // The timer holds the process while a reply is awaited (as the socket may not, e.g. under TLS),
      // and not between replies: an idle cached connection must not keep it alive.
      await new Promise<void>((resolve) => {
        this.waitDeadline = deadline;
        this.wake = () => {
          this.wake = undefined;
          this.timer?.unref();
          resolve();
        };
        this.armTimer(deadline, now);
      });
    }
  }

  /** While a reply is awaited: make sure the timer fires no later than `deadline`, and holds the process. */
  private armTimer(deadline: number, now: number): void {
    if (this.timer === undefined || this.timerAt > deadline) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timerAt = deadline;
      this.timer = setTimeout(this.onTimer, deadline - now);
    } else this.timer.ref();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Read one (possibly multi-line) reply within `timeoutSec`. */
  async readReply(timeoutSec: number): Promise<ServerReply> {
    const deadline = Date.now() + (timeoutSec > 0 ? timeoutSec : 3600) * 1000;
    const lines: string[] = [];
    for (;;) {
      const line = this.lines.shift() ?? (await this.readLine(deadline));
      if (!REPLY_LINE.test(line)) throw new SessionError('protocol');
      if (lines.length < MAX_REPLY_LINES) lines.push(line);
      if (line.charCodeAt(3) !== 0x2d) return parseReply(lines);
    }
  }

  /** Drop any replies the server sent ahead (after STARTTLS they must not be trusted). */
  discardPending(): void {
    this.lines.length = 0;
    this.buf = '';
  }

  get pendingInput(): boolean {
    return this.lines.length > 0 || this.buf.length > 0;
  }

  async write(data: string | Buffer, timeoutSec: number): Promise<void> {
    if (this.closed) throw new SessionError('lost');
    const flushed = typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
    if (flushed) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new SessionError('timeout')), (timeoutSec > 0 ? timeoutSec : 3600) * 1000);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.socket.off('drain', onDrain);
        this.socket.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = (): void => finish();
      const onClose = (): void => finish(new SessionError('lost'));
      this.socket.on('drain', onDrain);
      this.socket.on('close', onClose);
    });
  }

  /** Run the TLS handshake on this connection after a 220 reply to STARTTLS. */
  startTls(options: ConnectionOptions, timeoutSec: number): Promise<TLSSocket> {
    const plain = this.socket;
    this.detach(plain);
    // The TLS socket reports failures from now on; a late error on the raw socket must not go unhandled.
    plain.on('error', () => undefined);
    this.discardPending();
    return new Promise((resolve, reject) => {
      const secure = tlsConnect({ ...options, socket: plain });
      const timer = setTimeout(() => {
        secure.destroy();
        reject(new SessionError('timeout'));
      }, timeoutSec * 1000);
      secure.once('error', (e) => {
        clearTimeout(timer);
        this.closed = true;
        secure.destroy();
        reject(e instanceof Error ? e : new Error(String(e)));
      });
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        secure.removeAllListeners('error');
        this.socket = secure;
        this.attach(secure);
        resolve(secure);
      });
    });
  }

  /** An idle cached connection must not keep the process alive. */
  setIdle(idle: boolean): void {
    if (idle) this.socket.unref();
    else this.socket.ref();
  }

  close(): void {
    this.closed = true;
    this.stopTimer();
    this.socket.destroy();
  }

  /** Polite end: QUIT, wait briefly for 221, then close regardless. */
  async quit(timeoutSec: number): Promise<void> {
    try {
      await this.write('QUIT\r\n', timeoutSec);
      await this.readReply(Math.min(timeoutSec, 5));
    } catch {
      // The server may hang up first; QUIT's outcome changes nothing.
    }
    this.close();
  }
}

export function parseReply(lines: readonly string[]): ServerReply {
  const head = lines[0] ?? '000';
  const code = Number.parseInt(head.slice(0, 3), 10);
  const first = head.slice(4);
  const m = ENHANCED.exec(first);
  // An enhanced code only counts when its class agrees with the reply code (RFC 3463).
  const dsn = m && m[1] === String(code)[0] ? `${m[1]}.${m[2]}.${m[3]}` : `${String(code)[0]}.0.0`;
  let text = `${code} ${first}`.trimEnd();
  // Postfix quotes multi-line replies as one line; continuation lines lose their repeated DSN.
  for (let i = 1; i < lines.length; i++) {
    const t = (lines[i] ?? '').slice(4);
    text += ` ${m ? t.replace(REPEATED_ENHANCED, '') : t}`;
  }
  return { code, dsn, lines, text };
}
