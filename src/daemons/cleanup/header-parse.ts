// Splitting message content into logical headers and the body, as cleanup(8)
// sees it: a header is `name:` (printable ASCII but colon, optional blanks
// before the colon) followed by continuation lines that start with a blank;
// the header section ends at the empty line, or at the first line that is
// not a header (which then belongs to the body).

export interface LogicalHeader {
  /** Field name as written. */
  readonly name: string;
  /** Lower-cased field name, for comparisons. */
  readonly lname: string;
  /** The physical lines including their CRLFs. */
  readonly raw: Buffer;
  /**
   * Rebuilt by address rewriting from its first header_address_token_limit
   * tokens: already bounded, and its rewritten addresses must not count
   * against the limit a second time.
   */
  readonly rebuilt?: boolean;
}

export interface ParsedContent {
  readonly headers: LogicalHeader[];
  /** Whether the header section ended with an empty line (kept on output). */
  readonly separator: boolean;
  /** Everything after the header section (and separator), as pieces of the content (none when empty). */
  readonly body: Buffer[];
}

/**
 * The field name when the line at `pos` starts a header (`name:`, printable
 * ASCII but colon, optional blanks before the colon), looked for within its
 * first 1000 bytes; read from the bytes, no string made of the line.
 */
function headerName(buf: Buffer, pos: number, end: number): string | undefined {
  const stop = Math.min(end, pos + 1000);
  let i = pos;
  while (i < stop) {
    const c = buf[i] as number;
    if (c < 0x21 || c > 0x7e || c === 0x3a) break;
    i++;
  }
  if (i === pos) return undefined;
  let j = i;
  while (j < stop && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
  return j < stop && buf[j] === 0x3a ? buf.toString('latin1', pos, i) : undefined;
}

function nextLineEnd(buf: Buffer, from: number): number {
  const lf = buf.indexOf(0x0a, from);
  return lf < 0 ? buf.length : lf + 1;
}

/**
 * Split content given as pieces (cleanup's received chunks, each one or more
 * whole lines). The body is never joined: it comes back as the pieces it was
 * received in; only a header whose lines lie in two pieces is copied
 * together. Pieces that split a line are joined first.
 */
export function parseContent(content: Buffer | readonly Buffer[]): ParsedContent {
  const pieces = Buffer.isBuffer(content) ? [content] : content;
  const headers: LogicalHeader[] = [];
  // The logical header being collected: its name and the bytes seen so far (one part per piece).
  let current: { name: string; parts: Buffer[]; start: number } | undefined;
  const close = (piece: Buffer, end: number): void => {
    if (!current) return;
    const last = piece.subarray(current.start, end);
    const raw =
      current.parts.length === 0
        ? last
        : last.length === 0 && current.parts.length === 1
          ? (current.parts[0] as Buffer)
          : Buffer.concat([...current.parts, last]);
    headers.push({ name: current.name, lname: current.name.toLowerCase(), raw });
    current = undefined;
  };
  const bodyFrom = (i: number, at: number): Buffer[] => {
    const body: Buffer[] = [];
    const first = pieces[i];
    if (first && at < first.length) body.push(at === 0 ? first : first.subarray(at));
    for (let j = i + 1; j < pieces.length; j++) {
      const p = pieces[j];
      if (p && p.length > 0) body.push(p);
    }
    return body;
  };
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] as Buffer;
    if (i < pieces.length - 1 && piece.length > 0 && piece[piece.length - 1] !== 0x0a) {
      // A line continues into the next piece: fall back to one buffer.
      return parseContent(Buffer.concat(pieces));
    }
    if (current) current.start = 0;
    let pos = 0;
    while (pos < piece.length) {
      const end = nextLineEnd(piece, pos);
      const first = piece[pos];
      if (first === 0x0d || first === 0x0a) {
        // The empty line ends the header section.
        close(piece, pos);
        return { headers, separator: true, body: bodyFrom(i, end) };
      }
      if ((first === 0x20 || first === 0x09) && current) {
        pos = end;
        continue;
      }
      const name = headerName(piece, pos, end);
      close(piece, pos);
      if (name === undefined) return { headers, separator: false, body: bodyFrom(i, pos) };
      current = { name, parts: [], start: pos };
      pos = end;
    }
    // The piece ends inside a header that may continue in the next one.
    if (current && piece.length > current.start) current.parts.push(piece.subarray(current.start));
  }
  if (current) {
    const raw = current.parts.length === 1 ? (current.parts[0] as Buffer) : Buffer.concat(current.parts);
    headers.push({ name: current.name, lname: current.name.toLowerCase(), raw });
  }
  return { headers, separator: false, body: [] };
}

/** The first `limit` bytes of content given as pieces, as one buffer (no copy when one piece holds them). */
export function joinedPrefix(pieces: readonly Buffer[], limit: number): Buffer {
  const first = pieces[0];
  if (!first) return Buffer.alloc(0);
  if (first.length >= limit || pieces.length === 1) return first.subarray(0, limit);
  let size = 0;
  for (const p of pieces) size += p.length;
  return Buffer.concat(pieces, Math.min(size, limit));
}

/** The header's value with folding removed (CRLF before a blank dropped), leading blanks trimmed. */
export function headerValue(h: LogicalHeader): string {
  const text = h.raw.toString('utf8');
  const colon = text.indexOf(':');
  return text
    .slice(colon + 1)
    .replace(/\r?\n(?=[ \t])/g, '')
    .replace(/\r?\n$/, '')
    .replace(/^[ \t]+/, '');
}

/** The whole header unfolded (`Name: value`), as header_checks see it. */
export function headerText(h: LogicalHeader): string {
  return h.raw
    .toString('utf8')
    .replace(/\r?\n(?=[ \t])/g, '')
    .replace(/\r?\n$/, '');
}

/** Keep at most `limit` bytes of a header (header_size_limit): whole lines while they fit, the excess discarded. */
export function limitHeader(h: LogicalHeader, limit: number): LogicalHeader {
  if (limit <= 0 || h.raw.length <= limit) return h;
  let keep = 0;
  for (;;) {
    const end = nextLineEnd(h.raw, keep);
    if (end > limit || end === keep) break;
    keep = end;
  }
  const raw =
    keep > 0
      ? h.raw.subarray(0, keep)
      : Buffer.concat([h.raw.subarray(0, Math.max(0, limit - 2)), Buffer.from('\r\n')]);
  return { ...h, raw };
}
