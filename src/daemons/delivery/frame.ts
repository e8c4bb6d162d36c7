// Framing for the channel between the core worker and the delivery process
// (docs/ARCHITECTURE.md, "Processes and privileges"). A frame is
// u32 total length, u32 JSON length, the JSON header, then optional raw bytes
// (message content travels as bytes, not base64). The reader refuses frames
// above a per-direction limit, so a confused or hostile peer cannot make the
// other side buffer without bound.
import type { Socket } from 'node:net';

export class FrameError extends Error {
  override name = 'FrameError';
}

export interface Frame {
  readonly header: unknown;
  readonly data: Buffer;
}

export function encodeFrame(header: unknown, data?: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.alloc(8);
  head.writeUInt32BE(4 + json.length + (data?.length ?? 0), 0);
  head.writeUInt32BE(json.length, 4);
  return data ? Buffer.concat([head, json, data]) : Buffer.concat([head, json]);
}

/**
 * Writes frames to a socket; the frames of one event-loop turn leave in one
 * system call (a batch of outcomes, the requests qmgr sends for them), since
 * each write wakes the other process once more.
 */
export function corkedWriter(socket: Socket): (frame: Buffer) => void {
  let corked = false;
  return (frame) => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(() => {
        corked = false;
        socket.uncork();
      });
    }
    socket.write(frame);
  };
}

/** Splits a byte stream into frames; throws FrameError on a frame that is too big or malformed. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private needed = 0;

  constructor(private readonly maxFrame: number) {}

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Frame[] = [];
    for (;;) {
      if (this.buffered < 4 || this.buffered < this.needed) return out;
      const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
      this.chunks = [all];
      const len = all.readUInt32BE(0);
      if (len < 4 || len > this.maxFrame) throw new FrameError(`frame of ${len} bytes (limit ${this.maxFrame})`);
      if (all.length < 4 + len) {
        this.needed = 4 + len; // no copying until the whole frame is here
        return out;
      }
      this.needed = 0;
      const jsonLen = all.readUInt32BE(4);
      if (jsonLen > len - 4) throw new FrameError('frame header longer than the frame');
      let header: unknown;
      try {
        header = JSON.parse(all.subarray(8, 8 + jsonLen).toString('utf8'));
      } catch {
        throw new FrameError('frame header is not JSON');
      }
      out.push({ header, data: Buffer.from(all.subarray(8 + jsonLen, 4 + len)) });
      const rest = all.subarray(4 + len);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
    }
  }
}

/** Feed a socket's bytes to `onFrame`; a framing error destroys the socket (the peer is not trusted to recover). */
export function readFrames(
  socket: Socket,
  maxFrame: number,
  onFrame: (f: Frame) => void,
  onError: (e: Error) => void,
): void {
  const reader = new FrameReader(maxFrame);
  socket.on('data', (chunk: Buffer) => {
    let frames: Frame[];
    try {
      frames = reader.push(chunk);
    } catch (e) {
      onError(e as Error);
      socket.destroy();
      return;
    }
    for (const f of frames) onFrame(f);
  });
}
