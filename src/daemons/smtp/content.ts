// The message as it goes on the wire after DATA: CRLF lines, dot-stuffed
// (RFC 5321 section 4.5.2), lines over `smtp_line_length_limit` broken with
// CRLF-SPACE (so MIME headers survive), and the final `.`.
// When the server lacks 8BITMIME, 8-bit MIME parts are converted to
// quoted-printable first (mime-convert.ts), as Postfix's smtp does unless
// `disable_mime_output_conversion = yes`.
//
// Queued content is CRLF lines, nearly all of them already in wire form: runs
// of such lines go out as slices of the queue's buffer, and only lines that
// start with a dot, end in a bare LF or are too long are rebuilt.

const CRLF = Buffer.from('\r\n');
const FOLD = Buffer.from('\r\n ');
const DOT = Buffer.from('.');
const END = Buffer.from('.\r\n');

/**
 * Turns content chunks (CRLF or bare-LF lines, not dot-stuffed) into the
 * DATA wire form: `push` each chunk, then `end`; `take` hands over the bytes
 * so far as one buffer. Synchronous: one message costs no awaits here.
 */
export class DataEncoder {
  private parts: Buffer[] = [];
  private size = 0;
  /** The start of a line whose end has not arrived yet. */
  private rest: Buffer | undefined;

  constructor(private readonly lineLimit: number) {}

  /** Bytes encoded and not yet taken. */
  get pending(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    const limit = this.lineLimit;
    // [run, start) is a run of lines already in wire form, sent as one slice.
    let run = 0;
    let start = 0;
    let nl: number;
    while ((nl = buf.indexOf(0x0a, start)) >= 0) {
      const crlf = nl > start && buf[nl - 1] === 0x0d;
      const end = crlf ? nl - 1 : nl;
      if (!crlf || buf[start] === 0x2e || (limit > 0 && end - start > limit)) {
        if (start > run) this.add(buf.subarray(run, start));
        this.line(buf.subarray(start, end));
        run = nl + 1;
      }
      start = nl + 1;
    }
    if (start > run) this.add(buf.subarray(run, start));
    if (start < buf.length) this.rest = buf.subarray(start);
  }

  /** The last line (if it had no line end) and the final dot. */
  end(): void {
    if (this.rest) this.line(this.rest);
    this.rest = undefined;
    this.add(END);
  }

  /** Everything encoded so far, as one buffer. */
  take(): Buffer {
    const out = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    return out;
  }

  /** One line (without its line end) by the rules: dot-stuffed, folded, CRLF. */
  private line(line: Buffer): void {
    if (line[0] === 0x2e) this.add(DOT);
    const limit = this.lineLimit;
    if (limit > 0 && line.length > limit) {
      for (let off = 0; off < line.length; off += limit) {
        if (off > 0) this.add(FOLD);
        this.add(line.subarray(off, off + limit));
      }
    } else this.add(line);
    this.add(CRLF);
  }

  private add(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
  }
}

/** Whether any byte has the high bit set (8-bit content). */
export function has8bit(b: Buffer): boolean {
  for (const c of b) if (c >= 0x80) return true;
  return false;
}
