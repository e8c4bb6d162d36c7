// header_address_token_limit: address headers are parsed into RFC 5322
// tokens (atoms, quoted strings, comments, domain literals, specials) and
// whatever lies beyond the limit is discarded, so a crafted header cannot
// make later address processing quadratic.

/** Address-bearing headers (lower case), plain and Resent-. */
export const ADDRESS_HEADERS: ReadonlySet<string> = new Set([
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'resent-from',
  'resent-sender',
  'resent-reply-to',
  'resent-to',
  'resent-cc',
  'resent-bcc',
  'return-receipt-to',
  'errors-to',
  'disposition-notification-to',
]);

/** RFC 5322 specials, by character code (all ASCII). */
const SPECIAL = new Uint8Array(128);
for (const c of '()<>@,;:\\".[]') SPECIAL[c.charCodeAt(0)] = 1;

const isBlank = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
const isSpecial = (c: number): boolean => c < 128 && SPECIAL[c] === 1;

/** An RFC 5322 token of a header value, with its place in the value. */
export interface Token {
  readonly type: 'atom' | 'qstring' | 'comment' | 'domlit' | 'op';
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** RFC 5322 tokens of a header value, at most `limit` (header_address_token_limit). */
export function tokenize(value: string, limit: number): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = value.length;
  // Character codes, not one-character strings: this runs over every address header of every message.
  while (i < n && out.length < limit) {
    const c = value.charCodeAt(i);
    if (isBlank(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === 0x22 || c === 0x28 || c === 0x5b) {
      // Quoted string, comment (nested) or domain literal: one token each.
      const close = c === 0x22 ? 0x22 : c === 0x28 ? 0x29 : 0x5d;
      let depth = 1;
      i++;
      while (i < n && depth > 0) {
        const d = value.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (c === 0x28 && d === 0x28) depth++;
        else if (d === close) depth--;
        i++;
      }
      i = Math.min(i, n);
      const type = c === 0x22 ? 'qstring' : c === 0x28 ? 'comment' : 'domlit';
      out.push({ type, text: value.slice(start, i), start, end: i });
    } else if (isSpecial(c)) {
      i++;
      out.push({ type: 'op', text: value.charAt(start), start, end: i });
    } else {
      i++;
      while (i < n) {
        const d = value.charCodeAt(i);
        if (isSpecial(d) || isBlank(d)) break;
        i++;
      }
      out.push({ type: 'atom', text: value.slice(start, i), start, end: i });
    }
  }
  return out;
}

/**
 * Offset in `value` just after the `limit`-th token, or undefined when the
 * value has no more tokens than that.
 */
export function tokenLimitCut(value: string, limit: number): number | undefined {
  if (limit <= 0) return undefined;
  const tokens = tokenize(value, limit + 1);
  return tokens.length > limit ? tokens[limit - 1]?.end : undefined;
}
