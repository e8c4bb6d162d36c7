// Turns raw message bytes that arrive in arbitrary chunks (BDAT, RFC 3030)
// into the line form the queue expects: each line ending in CRLF, a bare
// <LF> normalised to CRLF, and a line longer than `limit` handed on in
// pieces so memory stays bounded. No dot-stuffing applies to BDAT content.
// Runs of lines that need no change go on as slices of the received chunk
// (the cleanup transaction keeps them), so a large message is not copied
// line by line.

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
const EMPTY = Buffer.alloc(0);

export class ContentLineSplitter {
  private carry: Buffer = EMPTY;
  /** Content bytes passed on, counted with CRLF line ends. */
  bytes = 0;
  bareLf = false;

  constructor(
    private readonly limit: number,
    private readonly sink: (b: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.carry.length > 0) {
      // Only the line that straddles the chunk boundary is joined, not the whole chunk.
      const lf = chunk.indexOf(LF);
      const cut = lf < 0 ? chunk.length : lf + 1;
      const head = Buffer.concat([this.carry, chunk.subarray(0, cut)]);
      this.carry = EMPTY;
      data = chunk.subarray(cut);
      if (!this.lines(head)) return;
    }
    this.lines(data);
  }

  /**
   * Pass on the whole lines in `data`: a run of CRLF lines as one slice of
   * it (they need no change), a bare-LF line with its CRLF added. The
   * unterminated rest is cut into pieces while it exceeds the limit, and
   * what is left is kept for the next chunk. False when some is kept.
   */
  private lines(data: Buffer): boolean {
    let pos = 0;
    let run = 0;
    for (;;) {
      const lf = data.indexOf(LF, pos);
      if (lf < 0) break;
      if (lf === 0 || data[lf - 1] !== CR) {
        this.bareLf = true;
        if (pos > run) this.emit(data.subarray(run, pos));
        this.emit(Buffer.concat([data.subarray(pos, lf), CRLF]));
        run = lf + 1;
      }
      pos = lf + 1;
    }
    if (pos > run) this.emit(data.subarray(run, pos));
    let rest = data.subarray(pos);
    while (rest.length > this.limit) {
      let n = this.limit;
      if (rest[n - 1] === CR) n--;
      this.emit(rest.subarray(0, n));
      rest = rest.subarray(n);
    }
    if (rest.length === 0) return true;
    // Copy so the carried tail does not pin the whole socket chunk.
    this.carry = Buffer.from(rest);
    return false;
  }

  /** End of content: an unterminated last line gets its CRLF. */
  finish(): void {
    if (this.carry.length > 0) this.emit(Buffer.concat([this.carry, CRLF]));
    this.carry = EMPTY;
  }

  private emit(b: Buffer): void {
    this.bytes += b.length;
    this.sink(b);
  }
}
