// The message as milters see and edit it at end of data: the header section
// as a list of headers (Postfix's own first Received: header kept but not
// shown, with header indexes counted as Postfix counts them), the body, and
// the envelope edits (change sender, add/delete recipients). Milter edits are
// applied here before the message reaches the queue; unchanged headers keep
// their exact bytes. MILTER_README "Milter applications" and cleanup(8)'s
// milter editing rules.
import type { MilterEditor } from './milter8.js';

export interface MilterHeader {
  name: string;
  /** Everything after the colon, continuation lines joined with "\n" (CRs removed), as Sendmail sends it. */
  value: string;
  /** The original bytes (CRLF lines); dropped once a milter changes the header. */
  raw?: Buffer;
  /** Added or changed by a milter: milter_header_checks still has to see it. */
  fromMilter?: boolean;
}

export type EnvelopeEdit =
  { readonly op: 'add'; readonly rcpt: string } | { readonly op: 'delete'; readonly rcpt: string };

/** Strip `<...>` from an address a milter sent (Sendmail's external form). */
export function unbracket(addr: string): string {
  const t = addr.trim();
  return t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1) : t;
}

export class MilterMessage {
  readonly headers: MilterHeader[] = [];
  body: Buffer;
  /** Whether an empty line separated headers and body. */
  private separator: boolean;
  /** Our own Received: header (not shown to milters). */
  private readonly hidden: MilterHeader | undefined;
  sender: string | undefined;
  readonly envelope: EnvelopeEdit[] = [];
  /** ESMTP arguments the milters sent that Postfix ignores, for the warning lines. */
  readonly ignoredArgs: { what: 'cleanup_chg_from' | 'cleanup_add_rcpt'; args: string }[] = [];

  /**
   * `content`: CRLF lines, not dot-stuffed. `hideIndex`: the position of our
   * own Received: header among the headers (after any PREPENDed ones), which
   * milters are not shown, as Postfix hides it.
   */
  constructor(content: Buffer, hideIndex?: number) {
    let off = 0;
    let current: { start: number; end: number; lines: string[] } | undefined;
    const flush = (): void => {
      if (!current) return;
      const first = current.lines[0] ?? '';
      const colon = first.indexOf(':');
      const name = first.slice(0, colon).replace(/[ \t]+$/, '');
      const value = [first.slice(colon + 1), ...current.lines.slice(1)].join('\n');
      this.headers.push({ name, value, raw: content.subarray(current.start, current.end) });
      current = undefined;
    };
    this.separator = false;
    while (off < content.length) {
      const nl = content.indexOf(0x0a, off);
      const end = nl < 0 ? content.length : nl + 1;
      const line = content.toString('utf8', off, end).replace(/\r?\n$/, '');
      if (line === '') {
        flush();
        this.separator = true;
        off = end;
        break;
      }
      if ((line.startsWith(' ') || line.startsWith('\t')) && current) {
        current.lines.push(line);
        current.end = end;
      } else if (/^[\x21-\x39\x3b-\x7e]+[ \t]*:/.test(line)) {
        flush();
        current = { start: off, end, lines: [line] };
      } else break; // not a header: the body starts here (without a separator)
      off = end;
    }
    flush();
    this.body = content.subarray(off);
    this.hidden = hideIndex !== undefined ? this.headers[hideIndex] : undefined;
  }

  /** Headers as milters see them: all but our own Received:. */
  visible(): MilterHeader[] {
    return this.headers.filter((h) => h !== this.hidden);
  }

  /** The n-th (1-based) visible header with this name, case-insensitively. */
  private find(index: number, name: string): number {
    const lname = name.toLowerCase();
    let seen = 0;
    for (let i = 0; i < this.headers.length; i++) {
      const h = this.headers[i];
      if (!h || h === this.hidden || h.name.toLowerCase() !== lname) continue;
      if (++seen === index) return i;
    }
    return -1;
  }

  /** The editor one milter's end-of-message replies go to. */
  editor(): MilterEditor {
    let newBody: Buffer[] | undefined;
    const make = (name: string, space: string, value: string): MilterHeader => ({
      name,
      value: `${space}${value}`,
      fromMilter: true,
    });
    return {
      addHeader: (name, space, value) => {
        this.headers.push(make(name, space, value));
      },
      insertHeader: (index, name, space, value) => {
        // Insert positions count every header, our Received: included (index 0 is the very top).
        this.headers.splice(Math.min(index, this.headers.length), 0, make(name, space, value));
      },
      changeHeader: (index, name, space, value) => {
        const i = this.find(index, name);
        if (i < 0) this.headers.push(make(name, space, value));
        else this.headers[i] = make(name, space, value);
      },
      deleteHeader: (index, name) => {
        const i = this.find(index, name);
        if (i >= 0) this.headers.splice(i, 1);
      },
      changeFrom: (sender, args) => {
        this.sender = unbracket(sender);
        if (args !== '') this.ignoredArgs.push({ what: 'cleanup_chg_from', args });
      },
      addRecipient: (rcpt, args) => {
        this.envelope.push({ op: 'add', rcpt: unbracket(rcpt) });
        if (args !== '') this.ignoredArgs.push({ what: 'cleanup_add_rcpt', args });
      },
      deleteRecipient: (rcpt) => {
        this.envelope.push({ op: 'delete', rcpt: unbracket(rcpt) });
      },
      replaceBody: (chunk) => {
        (newBody ??= []).push(Buffer.from(chunk));
      },
      endBody: () => {
        if (!newBody) return;
        this.body = normalizeBody(Buffer.concat(newBody));
        newBody = undefined;
      },
    };
  }

  /** The edited message: CRLF lines, headers, the separator and the body. */
  content(): Buffer {
    const parts: Buffer[] = [];
    for (const h of this.headers) parts.push(h.raw ?? Buffer.from(headerText(h), 'utf8'));
    if (this.separator || this.body.length > 0) parts.push(Buffer.from('\r\n'));
    parts.push(this.body);
    return Buffer.concat(parts);
  }

  /**
   * Applies the recipient edits to the envelope's recipient list, in the
   * order the milters sent them: what remains of `original` and what to add.
   * A deletion matches the address as the client gave it, as Postfix
   * matches the original recipient.
   */
  recipientEdits(original: readonly string[]): { deleted: string[]; added: string[] } {
    const deleted: string[] = [];
    const added: string[] = [];
    for (const e of this.envelope) {
      if (e.op === 'add') {
        // Deleted and then added back: the recipient simply stays.
        const d = deleted.indexOf(e.rcpt);
        if (d >= 0) deleted.splice(d, 1);
        else added.push(e.rcpt);
      } else {
        const i = added.indexOf(e.rcpt);
        if (i >= 0) added.splice(i, 1);
        else if (original.includes(e.rcpt) && !deleted.includes(e.rcpt)) deleted.push(e.rcpt);
      }
    }
    return { deleted, added };
  }
}

/** A header a milter wrote: `Name:` + value, each "\n" a CRLF and a continuation line. */
export function headerText(h: { name: string; value: string }): string {
  const lines = `${h.name}:${h.value}`.split(/\r?\n/);
  return lines.map((l, i) => (i > 0 && !/^[ \t]/.test(l) ? `\t${l}` : l)).join('\r\n') + '\r\n';
}

/** Replacement body text in the queue's form: every line ends in CRLF. */
function normalizeBody(b: Buffer): Buffer {
  if (b.length === 0) return b;
  let text = b.toString('latin1').replace(/\r?\n/g, '\r\n');
  if (!text.endsWith('\r\n')) text += '\r\n';
  return Buffer.from(text, 'latin1');
}
