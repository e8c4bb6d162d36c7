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

const SPECIALS = '()<>@,;:\\".[]';

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
  while (i < n && out.length < limit) {
    const c = value.charAt(i);
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    const start = i;
    if (c === '"' || c === '(' || c === '[') {
      // Quoted string, comment (nested) or domain literal: one token each.
      const close = c === '"' ? '"' : c === '(' ? ')' : ']';
      let depth = 1;
      i++;
      while (i < n && depth > 0) {
        const d = value.charAt(i);
        if (d === '\\') i++;
        else if (c === '(' && d === '(') depth++;
        else if (d === close) depth--;
        i++;
      }
      i = Math.min(i, n);
      const type = c === '"' ? 'qstring' : c === '(' ? 'comment' : 'domlit';
      out.push({ type, text: value.slice(start, i), start, end: i });
    } else if (SPECIALS.includes(c)) {
      i++;
      out.push({ type: 'op', text: c, start, end: i });
    } else {
      while (i < n && !SPECIALS.includes(value.charAt(i)) && !/[ \t\r\n]/.test(value.charAt(i))) i++;
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
