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
  /** Everything after the header section (and separator). */
  readonly body: Buffer;
}

const NAME_RE = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/;

function nextLineEnd(buf: Buffer, from: number): number {
  const lf = buf.indexOf(0x0a, from);
  return lf < 0 ? buf.length : lf + 1;
}

export function parseContent(content: Buffer): ParsedContent {
  const headers: LogicalHeader[] = [];
  let pos = 0;
  let current: { name: string; start: number } | undefined;
  const close = (end: number): void => {
    if (current)
      headers.push({
        name: current.name,
        lname: current.name.toLowerCase(),
        raw: content.subarray(current.start, end),
      });
    current = undefined;
  };
  while (pos < content.length) {
    const end = nextLineEnd(content, pos);
    const first = content[pos];
    if (first === 0x0d || first === 0x0a) {
      // The empty line ends the header section.
      close(pos);
      return { headers, separator: true, body: content.subarray(end) };
    }
    if ((first === 0x20 || first === 0x09) && current) {
      pos = end;
      continue;
    }
    // Header names are ASCII; look only at a bounded prefix of the line.
    const m = NAME_RE.exec(content.subarray(pos, Math.min(end, pos + 1000)).toString('latin1'));
    if (!m) {
      close(pos);
      return { headers, separator: false, body: content.subarray(pos) };
    }
    close(pos);
    current = { name: m[1] ?? '', start: pos };
    pos = end;
  }
  close(pos);
  return { headers, separator: false, body: Buffer.alloc(0) };
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
