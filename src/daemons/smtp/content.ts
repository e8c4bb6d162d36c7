// The message as it goes on the wire after DATA: CRLF lines, dot-stuffed
// (RFC 5321 section 4.5.2), lines over `smtp_line_length_limit` broken with
// CRLF-SPACE (so MIME headers survive), and the final `.`.
// When the server lacks 8BITMIME, 8-bit MIME parts are converted to
// quoted-printable first (mime-convert.ts), as Postfix's smtp does unless
// `disable_mime_output_conversion = yes`.

/**
 * The lines of each chunk of a content stream (without their line ends, CRLF
 * or bare LF), one array per chunk: one await per chunk rather than per line.
 */
export async function* contentLineBatches(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer[]> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of chunks) {
    const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    const lines: Buffer[] = [];
    let start = 0;
    let i: number;
    while ((i = buf.indexOf(0x0a, start)) >= 0) {
      const end = i > start && buf[i - 1] === 0x0d ? i - 1 : i;
      lines.push(buf.subarray(start, end));
      start = i + 1;
    }
    rest = Buffer.from(buf.subarray(start));
    if (lines.length) yield lines;
  }
  if (rest.length) yield [rest];
}

/** Split a content stream into lines without their line ends (CRLF or bare LF). */
export async function* contentLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const batch of contentLineBatches(chunks)) yield* batch;
}

const CRLF = Buffer.from('\r\n');
const FOLD = Buffer.from('\r\n ');
const DOT = Buffer.from('.');
const BATCH = 64 * 1024;

/**
 * Wire form of the message body for DATA, ending with `.CRLF`, in batches of
 * about 64 KiB; `lines` gives single lines or arrays of them (contentLineBatches).
 */
export async function* dataStream(
  lines: AsyncIterable<Buffer | readonly Buffer[]>,
  lineLimit: number,
): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  const add = (b: Buffer): void => {
    parts.push(b);
    size += b.length;
  };
  for await (const item of lines) {
    for (const line of Buffer.isBuffer(item) ? [item] : item) {
      if (line[0] === 0x2e) add(DOT);
      if (lineLimit > 0 && line.length > lineLimit) {
        for (let off = 0; off < line.length; off += lineLimit) {
          if (off > 0) add(FOLD);
          add(line.subarray(off, off + lineLimit));
        }
      } else add(line);
      add(CRLF);
      if (size >= BATCH) {
        yield Buffer.concat(parts);
        parts = [];
        size = 0;
      }
    }
  }
  add(Buffer.from('.\r\n'));
  yield Buffer.concat(parts);
}

/** Whether any byte has the high bit set (8-bit content). */
export function has8bit(b: Buffer): boolean {
  for (const c of b) if (c >= 0x80) return true;
  return false;
}
