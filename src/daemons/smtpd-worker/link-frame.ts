// Framing for the link between an smtpd worker process and the core worker
// (cleanup-link.ts, core-link-server.ts). It stands in for Postfix's
// smtpd → cleanup(8) unix-socket protocol, so it carries one message per
// round trip at most and must be cheap per frame: a fixed binary header
// (u32 length of the rest, u8 type, u32 transaction id) and a payload that
// is raw content bytes for the hot frames (DATA) and small JSON or text only
// for the rarer ones (BEGIN, REJECTED). A frame above the reader's limit, or
// one shorter than its header, closes the link: the peer is not trusted to
// recover from a framing error.
import type { Socket } from 'node:net';

export const HEADER_BYTES = 9;

/** Frame types. smtpd → core below 20, core → smtpd from 20. */
export const F = {
  /** Open the transaction: JSON {req, rcpts}; req.queueId is one the core handed out with IDS. */
  BEGIN: 1,
  /** More recipients of a begun transaction: JSON EnvelopeRecipient[]. */
  RCPT: 2,
  /** Content lines (dot-stuffing removed), raw. */
  DATA: 3,
  /** Commit; payload empty or JSON CleanupPolicyActions. Answered with QUEUED, DISCARDED, REJECTED or FAILED. */
  COMMIT: 4,
  /** Abort a begun transaction; no answer. */
  ABORT: 5,
  /** Queue IDs handed out but never begun (aborted before any content): space-separated text. */
  RELEASE: 6,
  /** Ask for more queue IDs; the id field is the count. */
  WANT: 7,
  /** ETRN: retry deferred mail for the site in the payload (text). */
  FLUSH: 8,
  /** verify(8) query for the address in the payload (text); answered with VANSWER or VFAILED. */
  VQUERY: 9,
  /** Wait until verify(8) has news for an address or a time passed: JSON {address, ms}; answered with VSETTLED. */
  VWAIT: 10,
  /** Queue IDs reserved for this peer: space-separated text; empty when cleanup is not running. */
  IDS: 20,
  QUEUED: 21,
  DISCARDED: 22,
  /** JSON SmtpReply. */
  REJECTED: 23,
  /** The transaction failed in the core: error text. */
  FAILED: 24,
  /** JSON VerifyAnswer. */
  VANSWER: 25,
  VSETTLED: 26,
  /** A verify request failed in the core: error text. */
  VFAILED: 27,
} as const;
export type FrameType = (typeof F)[keyof typeof F];

export interface LinkFrame {
  readonly type: number;
  readonly id: number;
  /** A view into the read buffer: consume it before the next frame is read, or copy it. */
  readonly payload: Buffer;
}

export function writeHeader(buf: Buffer, type: FrameType, id: number, payloadBytes: number): void {
  buf.writeUInt32BE(payloadBytes + 5, 0);
  buf.writeUInt8(type, 4);
  buf.writeUInt32BE(id >>> 0, 5);
}

export function encode(type: FrameType, id: number, payload?: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const n = body?.length ?? 0;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + n);
  writeHeader(buf, type, id, n);
  if (body) body.copy(buf, HEADER_BYTES);
  return buf;
}

export class LinkFrameError extends Error {
  override name = 'LinkFrameError';
}

/** Splits a byte stream into frames; throws LinkFrameError on a frame that is too big or too short. */
export class LinkFrameReader {
  /** Bytes of an unfinished frame, kept as they came until the whole frame is here. */
  private parts: Buffer[] = [];
  private buffered = 0;
  private needed = 0;

  constructor(private readonly maxFrame: number) {}

  /** Calls `onFrame` for each whole frame in order; the payload views are valid only during the call. */
  push(chunk: Buffer, onFrame: (f: LinkFrame) => void): void {
    if (this.parts.length > 0) {
      this.parts.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered < this.needed) return;
      chunk = Buffer.concat(this.parts, this.buffered);
      this.parts = [];
      this.buffered = 0;
    }
    let off = 0;
    while (chunk.length - off >= 4) {
      const len = chunk.readUInt32BE(off);
      if (len < 5 || len > this.maxFrame) throw new LinkFrameError(`frame of ${len} bytes (limit ${this.maxFrame})`);
      if (chunk.length - off < 4 + len) {
        this.needed = 4 + len;
        break;
      }
      onFrame({
        type: chunk.readUInt8(off + 4),
        id: chunk.readUInt32BE(off + 5),
        payload: chunk.subarray(off + HEADER_BYTES, off + 4 + len),
      });
      off += 4 + len;
    }
    if (off < chunk.length) {
      const rest = chunk.subarray(off);
      if (rest.length < 4) this.needed = 4;
      this.parts = [rest];
      this.buffered = rest.length;
    }
  }
}

/** Feed a socket's bytes to `onFrame`; a framing error or a throwing handler destroys the socket. */
export function readLinkFrames(
  socket: Socket,
  maxFrame: number,
  onFrame: (f: LinkFrame) => void,
  onError: (e: Error) => void,
): void {
  const reader = new LinkFrameReader(maxFrame);
  socket.on('data', (chunk: Buffer) => {
    try {
      reader.push(chunk, onFrame);
    } catch (e) {
      onError(e as Error);
      socket.destroy();
    }
  });
}

/** Writes frames, coalescing those of one event-loop turn into one writev. */
export class CorkedWriter {
  private corked = false;
  constructor(private readonly socket: Socket) {}

  get open(): boolean {
    return !this.socket.destroyed;
  }

  write(buf: Buffer): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(buf);
  }

  send(type: FrameType, id: number, payload?: Buffer | string): void {
    this.write(encode(type, id, payload));
  }
}
