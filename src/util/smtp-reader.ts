// Byte-level framing for an SMTP server connection (the part of Postfix's
// smtp_stream/smtpd_chat that owns line endings). It hands out command lines
// and dot-terminated DATA content and is the single place that decides what
// counts as a line end, so bare <LF> handling and the End-of-DATA rule that
// defeats SMTP smuggling (<LF>.<LF>, <LF>.<CR><LF>, <CR>.<CR><LF>) live here.
// Memory is bounded: at most `bufferLimit` unread bytes are held before the
// socket is paused, and an over-long line is handed out in pieces.
import type { Duplex } from 'node:stream';

/** How a line ended: `crlf`, a bare `lf`, or `piece` for a fragment of an over-long line. */
export type LineEnding = 'crlf' | 'lf' | 'piece';

export interface RawLine {
  /** Line content without its terminator. */
  readonly bytes: Buffer;
  readonly ending: LineEnding;
}

/** `no`: <LF> ends a line and <LF>.<LF> ends DATA (Postfix 3.7 behaviour). */
export type BareNewlineMode = 'normalize' | 'reject' | 'no';

export interface DataResult {
  /** Content bytes after dot-unstuffing, counted with CRLF line ends. */
  readonly bytes: number;
  /** A bare <LF> was seen in the content. */
  readonly bareLf: boolean;
}

export class ReaderClosedError extends Error {
  override name = 'ReaderClosedError';
  constructor(readonly reason: 'eof' | 'timeout' | 'error') {
    super(`connection ${reason}`);
  }
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

export class SmtpReader {
  /** Unread bytes; empty only when `more` is empty too. */
  private buf: Buffer = Buffer.alloc(0);
  /**
   * Chunks that arrived while `buf` still held unread bytes, in order. They
   * are not appended to `buf` (a copy of every chunk of a large message):
   * only a line that straddles the boundary is joined (nextLine).
   */
  private more: Buffer[] = [];
  private moreBytes = 0;
  private ended: 'eof' | 'timeout' | 'error' | undefined;
  private wake: (() => void) | undefined;
  /** Skipping the rest of an over-long command line. */
  private skipping = false;
  private paused = false;
  /** Total bytes received. */
  received = 0;
  /** Count of data events, so a waiter can tell whether anything arrived. */
  private arrivals = 0;

  constructor(
    private stream: Duplex,
    private readonly bufferLimit: number,
    /**
     * Called before the reader blocks for input: the session flushes pipelined
     * replies here (a promise only when it has to wait for the socket to drain).
     */
    private readonly beforeWait: () => Promise<void> | undefined,
  ) {
    this.attach(stream);
  }

  /** Switch to a new stream (after STARTTLS); any unread plaintext is discarded. */
  rebind(stream: Duplex): void {
    this.stream.removeAllListeners('data');
    this.stream = stream;
    this.buf = Buffer.alloc(0);
    this.more = [];
    this.moreBytes = 0;
    this.skipping = false;
    this.attach(stream);
  }

  private attach(stream: Duplex): void {
    stream.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.arrivals++;
      if (this.buf.length === 0) this.buf = chunk;
      else {
        this.more.push(chunk);
        this.moreBytes += chunk.length;
      }
      if (this.pending() >= this.bufferLimit && !this.paused) {
        this.paused = true;
        stream.pause();
      }
      this.poke();
    });
    stream.on('end', () => this.close('eof'));
    stream.on('close', () => this.close('eof'));
    stream.on('error', () => this.close('error'));
  }

  /** Whether the session is blocked waiting for client input (only then may it time out). */
  isWaiting(): boolean {
    return this.wake !== undefined;
  }

  /** Unread bytes already received: non-zero means the client pipelined. */
  pending(): number {
    return this.buf.length + this.moreBytes;
  }

  /** Up to `max` unread bytes, for the improper-pipelining log line. */
  peek(max: number): Buffer {
    if (this.buf.length >= max || this.more.length === 0) return this.buf.subarray(0, max);
    return Buffer.concat([this.buf, ...this.more]).subarray(0, max);
  }

  close(reason: 'eof' | 'timeout' | 'error'): void {
    if (this.ended === undefined) this.ended = reason;
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /**
   * Wait until more bytes arrive (the buffer may hold an incomplete line) or
   * the stream ends. Not an async function: once per command, the extra
   * promise and microtask turns showed in the profile.
   */
  private waitForInput(): Promise<void> {
    if (this.ended !== undefined) return Promise.reject(new ReaderClosedError(this.ended));
    const seen = this.arrivals;
    const flushing = this.beforeWait();
    return flushing === undefined ? this.sleep(seen) : flushing.then(() => this.sleep(seen));
  }

  /** The wait itself, unless something arrived (or the stream ended) since `seen`. */
  private sleep(seen: number): Promise<void> {
    if (this.arrivals !== seen || this.ended !== undefined) return Promise.resolve();
    if (this.paused) {
      this.paused = false;
      this.stream.resume();
    }
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    });
  }

  private take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    if (this.buf.length === 0) this.shiftMore();
    if (this.paused && this.pending() < this.bufferLimit / 2) {
      this.paused = false;
      this.stream.resume();
    }
    return out;
  }

  /**
   * The next line up to `limit` bytes, or a `piece` of an over-long line.
   * Returns undefined when more input is needed.
   */
  private nextLine(limit: number): RawLine | undefined {
    for (;;) {
      const scan = Math.min(this.buf.length, limit + 2);
      const lf = this.buf.subarray(0, scan).indexOf(LF);
      if (lf >= 0) {
        const raw = this.take(lf + 1);
        if (lf > 0 && raw[lf - 1] === CR) return { bytes: raw.subarray(0, lf - 1), ending: 'crlf' };
        return { bytes: raw.subarray(0, lf), ending: 'lf' };
      }
      // Decide on the same bytes as if every chunk had been appended to buf.
      if (this.buf.length >= limit + 2 || this.more.length === 0) break;
      this.joinMore(limit + 2 - this.buf.length);
    }
    if (this.buf.length < limit) return undefined;
    // Keep a trailing CR back so that a CRLF split across pieces stays one line end.
    let n = limit;
    if (this.buf[n - 1] === CR) n--;
    return { bytes: this.take(n), ending: 'piece' };
  }

  private shiftMore(): void {
    const next = this.more.shift();
    if (next === undefined) return;
    this.moreBytes -= next.length;
    this.buf = next;
  }

  /** Append to buf the next queued bytes up to and including a line end, at most `want` of them. */
  private joinMore(want: number): void {
    const next = this.more[0];
    if (next === undefined) return;
    const lf = next.subarray(0, want).indexOf(LF);
    const cut = lf >= 0 ? lf + 1 : Math.min(next.length, want);
    this.buf = Buffer.concat([this.buf, next.subarray(0, cut)]);
    this.moreBytes -= cut;
    if (cut === next.length) this.more.shift();
    else this.more[0] = next.subarray(cut);
  }

  /**
   * One command line (terminator removed). A line longer than `limit` is
   * truncated and the rest skipped, as Postfix does; `ending` tells whether
   * it ended in a bare <LF>.
   */
  async readCommand(limit: number): Promise<RawLine> {
    for (;;) {
      const line = this.nextLine(limit);
      if (line === undefined) {
        await this.waitForInput();
        continue;
      }
      if (this.skipping) {
        if (line.ending !== 'piece') this.skipping = false;
        continue;
      }
      if (line.ending === 'piece') {
        this.skipping = true;
        return { bytes: line.bytes, ending: 'crlf' };
      }
      return line;
    }
  }

  /**
   * DATA content up to the End-of-DATA line. `sink` receives the content
   * dot-unstuffed with CRLF line ends, in slices of one or more whole lines
   * (pieces of over-long lines without a line end).
   * Only "." between two CRLFs ends the content, unless `mode` is `no`.
   */
  async readData(
    mode: BareNewlineMode,
    afterCrlf: boolean,
    limit: number,
    sink: (b: Buffer) => void,
  ): Promise<DataResult> {
    let bytes = 0;
    let bareLf = false;
    let prevCrlf = afterCrlf;
    let atLineStart = true;
    for (;;) {
      // Ordinary lines pass through unchanged, so a run of them goes to the sink as one slice.
      const run = atLineStart ? this.plainRun(limit) : 0;
      if (run > 0) {
        bytes += run;
        sink(this.take(run));
        prevCrlf = true;
        continue;
      }
      const line = this.nextLine(limit);
      if (line === undefined) {
        await this.waitForInput();
        continue;
      }
      let b = line.bytes;
      if (atLineStart && b.length === 1 && b[0] === DOT && line.ending !== 'piece') {
        if (mode === 'no' || (prevCrlf && line.ending === 'crlf')) return { bytes, bareLf };
      }
      if (atLineStart && b.length > 0 && b[0] === DOT) b = b.subarray(1);
      if (line.ending === 'lf') bareLf = true;
      const out = line.ending === 'piece' ? b : Buffer.concat([b, CRLF_BYTES]);
      bytes += out.length;
      sink(out);
      atLineStart = line.ending !== 'piece';
      if (line.ending !== 'piece') prevCrlf = line.ending === 'crlf';
    }
  }

  /**
   * Length of the complete lines at the start of the buffer that DATA passes
   * on byte for byte: CRLF-terminated, within the line length limit (as
   * nextLine would return them whole) and not starting with a dot (which is
   * unstuffed, or ends the content). Anything else is left to nextLine.
   */
  private plainRun(limit: number): number {
    const buf = this.buf;
    let pos = 0;
    while (pos < buf.length && buf[pos] !== DOT) {
      const lf = buf.indexOf(LF, pos);
      if (lf <= pos || lf - pos >= limit + 2 || buf[lf - 1] !== CR) break;
      pos = lf + 1;
    }
    return pos;
  }

  /**
   * A header that precedes the SMTP dialogue (the PROXY protocol): `frame`
   * looks at the bytes received so far and returns how many of them to take
   * with its result, or undefined to wait for more.
   */
  async readFrame<T>(frame: (buf: Buffer) => { readonly take: number; readonly value: T } | undefined): Promise<T> {
    for (;;) {
      // A header before the dialogue is small and rare: look at everything received as one buffer.
      if (this.more.length > 0) {
        this.buf = Buffer.concat([this.buf, ...this.more]);
        this.more = [];
        this.moreBytes = 0;
      }
      const r = frame(this.buf);
      if (r !== undefined) {
        this.take(r.take);
        return r.value;
      }
      await this.waitForInput();
    }
  }

  /** Exactly `count` raw bytes (a BDAT chunk), delivered to `sink` as they arrive. */
  async readExact(count: number, sink: (b: Buffer) => void): Promise<void> {
    let left = count;
    while (left > 0) {
      if (this.buf.length === 0) {
        await this.waitForInput();
        continue;
      }
      const part = this.take(Math.min(left, this.buf.length));
      left -= part.length;
      sink(part);
    }
  }
}

const CRLF_BYTES = Buffer.from('\r\n');
