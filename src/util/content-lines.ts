// Turns raw message bytes that arrive in arbitrary chunks (BDAT, RFC 3030)
// into the line form the queue expects: each line ending in CRLF, a bare
// <LF> normalised to CRLF, and a line longer than `limit` handed on in
// pieces so memory stays bounded. No dot-stuffing applies to BDAT content.

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');

export class ContentLineSplitter {
  private carry: Buffer = Buffer.alloc(0);
  /** Content bytes passed on, counted with CRLF line ends. */
  bytes = 0;
  bareLf = false;

  constructor(
    private readonly limit: number,
    private readonly sink: (b: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    let data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    for (;;) {
      const lf = data.indexOf(LF);
      if (lf < 0) break;
      const crlf = lf > 0 && data[lf - 1] === CR;
      if (!crlf) this.bareLf = true;
      this.emit(Buffer.concat([data.subarray(0, crlf ? lf - 1 : lf), CRLF]));
      data = data.subarray(lf + 1);
    }
    while (data.length > this.limit) {
      let n = this.limit;
      if (data[n - 1] === CR) n--;
      this.emit(Buffer.from(data.subarray(0, n)));
      data = data.subarray(n);
    }
    // Copy so the carried tail does not pin the whole socket chunk.
    this.carry = Buffer.from(data);
  }

  /** End of content: an unterminated last line gets its CRLF. */
  finish(): void {
    if (this.carry.length > 0) this.emit(Buffer.concat([this.carry, CRLF]));
    this.carry = Buffer.alloc(0);
  }

  private emit(b: Buffer): void {
    this.bytes += b.length;
    this.sink(b);
  }
}
