// The MIME structure walk cleanup(8) does while it inspects content (Postfix's
// mime_state.c): it follows multipart boundaries and message/rfc822
// attachments through the body and says, for every piece, whether it is a
// part's header (mime_header_checks), an attached message's header
// (nested_header_checks) or body text (body_checks), plus the structural
// errors the strict_* parameters and mime_nesting_limit turn into rejects.
// Work is linear in the body size: each line is looked at once, boundaries
// are compared against at most mime_nesting_limit frames, and header text
// is kept only up to header_size_limit.
import { encodingDomain, MIME_HEADERS, parseContentType, type EncodingDomain } from './mime-structure.js';

export type MimeErrorCode = 'nesting' | '8bit-header' | '8bit-body' | 'encoding-domain';

/** Postfix's mime_state_detail(): DSN and text of each structural error. */
export const MIME_ERROR_TEXT: Record<MimeErrorCode, string> = {
  nesting: 'MIME nesting exceeds safety limit',
  '8bit-header': 'improper use of 8-bit data in message header',
  '8bit-body': 'improper use of 8-bit data in message body',
  'encoding-domain': 'invalid message/* or multipart/* encoding domain',
};

export type HeaderClass = 'primary' | 'multipart' | 'nested';

export type MimeEvent =
  /** A logical header inside the body; [start, end) covers its physical lines. */
  | {
      readonly type: 'header';
      readonly cls: HeaderClass;
      readonly lname: string;
      readonly text: string;
      readonly start: number;
      readonly end: number;
    }
  /**
   * One body line or, for lines longer than line_length_limit, one piece of
   * it; [start, end) excludes the line ending, which `eol` covers.
   * `offset` is the position within the current body segment.
   */
  | {
      readonly type: 'body';
      readonly text: string;
      readonly start: number;
      readonly end: number;
      readonly eolEnd: number;
      readonly offset: number;
    }
  | { readonly type: 'error'; readonly code: MimeErrorCode; readonly text: string };

export interface MimeScanOptions {
  /** false: disable_mime_input_processing (the body is one segment of text). */
  readonly mime: boolean;
  readonly boundaryLimit: number;
  readonly nestingLimit: number;
  readonly headerSizeLimit: number;
  readonly lineLimit: number;
  readonly report: ReadonlySet<MimeErrorCode>;
}

/** Primary header facts the walk needs (the message's own Content-Type and encoding). */
export interface PrimaryHeader {
  readonly lname: string;
  /** Unfolded value. */
  readonly value: string;
  /** Whole header as the checks see it, for error texts. */
  readonly text: string;
}

interface Frame {
  /** `--boundary` for multipart frames; absent for an attached message. */
  readonly marker?: Buffer;
  readonly digest: boolean;
}

const NAME_RE = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;
const MAX_ERROR_TEXT = 100;

function has8bit(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if ((buf[i] ?? 0) >= 0x80) return true;
  return false;
}

function lineEnd(buf: Buffer, from: number): { end: number; eolEnd: number } {
  const lf = buf.indexOf(0x0a, from);
  if (lf < 0) return { end: buf.length, eolEnd: buf.length };
  return { end: lf > from && buf[lf - 1] === 0x0d ? lf - 1 : lf, eolEnd: lf + 1 };
}

export class MimeScan {
  private readonly stack: Frame[] = [];
  private structure: boolean;
  private domain: EncodingDomain = '7bit';
  private segmentStart = 0;

  constructor(
    private readonly body: Buffer,
    private readonly opts: MimeScanOptions,
  ) {
    this.structure = opts.mime;
  }

  private error(code: MimeErrorCode, text: string): MimeEvent | undefined {
    return this.opts.report.has(code) ? { type: 'error', code, text: text.slice(0, MAX_ERROR_TEXT) } : undefined;
  }

  /**
   * What follows a header section: sets up the body (domain, boundary frame)
   * and says whether an attached message's headers come next. An error event
   * is returned when the structure breaks a limit.
   */
  private enter(headers: readonly PrimaryHeader[], defaultDigest: boolean): { nested: boolean; error?: MimeEvent } {
    this.domain = '7bit';
    if (!this.structure) return { nested: false };
    const ctHeader = headers.find((h) => h.lname === 'content-type');
    const cteHeader = headers.find((h) => h.lname === 'content-transfer-encoding');
    const ct = ctHeader
      ? parseContentType(ctHeader.value)
      : defaultDigest
        ? { type: 'message', subtype: 'rfc822' }
        : undefined;
    const domain = cteHeader ? encodingDomain(cteHeader.value) : '7bit';
    this.domain = domain;
    if (!ct) return { nested: false };
    const composite = ct.type === 'multipart' || ct.type === 'message';
    if (composite && cteHeader && domain !== '7bit' && domain !== '8bit' && domain !== 'binary') {
      // Treated as opaque data, as Postfix does.
      const e = this.error('encoding-domain', cteHeader.text);
      return e ? { nested: false, error: e } : { nested: false };
    }
    const multipart = ct.type === 'multipart' && ct.boundary !== undefined;
    const message = ct.type === 'message' && ct.subtype === 'rfc822';
    if (!multipart && !message) return { nested: false };
    if (this.stack.length >= this.opts.nestingLimit) {
      this.structure = false;
      const e = this.error('nesting', ctHeader?.text ?? 'Content-Type: message/rfc822');
      return e ? { nested: false, error: e } : { nested: false };
    }
    if (multipart) {
      const b = Buffer.from(`--${ct.boundary ?? ''}`, 'latin1');
      this.stack.push({ marker: b.subarray(0, 2 + this.opts.boundaryLimit), digest: ct.subtype === 'digest' });
      return { nested: false };
    }
    this.stack.push({ digest: false });
    return { nested: true };
  }

  /** The frame whose boundary `[start, end)` is, innermost first; -1 when none. */
  private boundaryFrame(start: number, end: number): number {
    if (end - start < 3 || this.body[start] !== 0x2d || this.body[start + 1] !== 0x2d) return -1;
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const m = this.stack[i]?.marker;
      if (m && end - start >= m.length && this.body.compare(m, 0, m.length, start, start + m.length) === 0) return i;
    }
    return -1;
  }

  /** Events for the primary headers (8-bit checks only) and the body that follows them. */
  *events(primary: readonly PrimaryHeader[]): Generator<MimeEvent> {
    for (const h of primary) {
      if (/[\u0080-\u{10ffff}]/u.test(h.text)) {
        const e = this.error('8bit-header', h.text);
        if (e) yield e;
      }
    }
    const first = this.enter(primary, false);
    if (first.error) yield first.error;
    yield* this.walk(first.nested);
  }

  private *walk(startInHeaders: boolean): Generator<MimeEvent> {
    const body = this.body;
    const limit = Math.max(1, this.opts.lineLimit);
    let inHeaders = startInHeaders;
    let cls: HeaderClass = 'nested';
    let digestDefault = false;
    let section: PrimaryHeader[] = [];
    let cur: { lname: string; text: string; start: number; end: number } | undefined;
    let pos = 0;

    const flush = function* (this: MimeScan): Generator<MimeEvent> {
      if (!cur) return;
      const h = cur;
      cur = undefined;
      const text = h.text;
      const value = text
        .slice(text.indexOf(':') + 1)
        .replace(/\n(?=[ \t])/g, '')
        .trim();
      section.push({ lname: h.lname, value, text });
      if (has8bit(body, h.start, h.end)) {
        const e = this.error('8bit-header', text);
        if (e) yield e;
      }
      const klass: HeaderClass = MIME_HEADERS.has(h.lname) ? 'multipart' : cls;
      yield { type: 'header', cls: klass, lname: h.lname, text, start: h.start, end: h.end };
    }.bind(this);

    /** Header section over: set up what follows. */
    const endHeaders = function* (this: MimeScan): Generator<MimeEvent> {
      yield* flush();
      const next = this.enter(section, digestDefault);
      section = [];
      if (next.error) yield next.error;
      inHeaders = next.nested;
      cls = 'nested';
      digestDefault = false;
    }.bind(this);

    while (pos < body.length) {
      const { end, eolEnd } = lineEnd(body, pos);
      if (inHeaders) {
        if (end === pos) {
          // The empty line ends the section and is itself body text.
          yield* endHeaders();
          this.segmentStart = pos;
          if (inHeaders) {
            // Before an attached message's headers: still a body line to body_checks.
            yield* this.bodyLine(pos, end, eolEnd, limit);
            pos = eolEnd;
            continue;
          }
        } else if ((body[pos] === 0x20 || body[pos] === 0x09) && cur) {
          if (cur.text.length < this.opts.headerSizeLimit) {
            const room = this.opts.headerSizeLimit - cur.text.length;
            cur.text += `\n${body.toString('utf8', pos, Math.min(end, pos + room))}`;
          }
          cur.end = eolEnd;
          pos = eolEnd;
          continue;
        } else {
          const head = body.toString('latin1', pos, Math.min(end, pos + 1000));
          const m = NAME_RE.exec(head);
          if (m) {
            yield* flush();
            const name = m[0].replace(/[ \t]*:$/, '');
            cur = {
              lname: name.toLowerCase(),
              text: body.toString('utf8', pos, Math.min(end, pos + this.opts.headerSizeLimit)),
              start: pos,
              end: eolEnd,
            };
            pos = eolEnd;
            continue;
          }
          // A non-header line ends the section and is read again as body
          // (no empty line is implied here, unlike after the primary headers).
          yield* endHeaders();
          this.segmentStart = pos;
          if (inHeaders) continue; // an attached message whose header section is empty
        }
      }
      // Body text: boundaries first.
      const frame = this.structure ? this.boundaryFrame(pos, end) : -1;
      if (frame >= 0) {
        const marker = this.stack[frame]?.marker ?? Buffer.alloc(0);
        const closing = body[pos + marker.length] === 0x2d && body[pos + marker.length + 1] === 0x2d;
        const digest = this.stack[frame]?.digest ?? false;
        this.stack.length = closing ? frame : frame + 1;
        yield* this.bodyLine(pos, end, eolEnd, limit);
        this.domain = '7bit';
        this.segmentStart = eolEnd;
        if (!closing) {
          inHeaders = true;
          cls = 'multipart';
          digestDefault = digest;
        }
        pos = eolEnd;
        continue;
      }
      if (this.domain === '7bit' && has8bit(body, pos, end)) {
        const e = this.error('8bit-body', body.toString('utf8', pos, Math.min(end, pos + MAX_ERROR_TEXT)));
        if (e) yield e;
      }
      yield* this.bodyLine(pos, end, eolEnd, limit);
      pos = eolEnd;
    }
    if (inHeaders) yield* flush();
  }

  /** A body line, in pieces of at most `limit` bytes (line_length_limit), as Postfix's records are. */
  private *bodyLine(start: number, end: number, eolEnd: number, limit: number): Generator<MimeEvent> {
    let s = start;
    do {
      const e = Math.min(end, s + limit);
      yield {
        type: 'body',
        text: this.body.toString('utf8', s, e),
        start: s,
        end: e,
        eolEnd: e === end ? eolEnd : e,
        offset: s - this.segmentStart,
      };
      s = e;
    } while (s < end);
  }
}
