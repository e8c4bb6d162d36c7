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

/**
 * Offset in `value` just after the `limit`-th token, or undefined when the
 * value has no more tokens than that.
 */
export function tokenLimitCut(value: string, limit: number): number | undefined {
  let count = 0;
  let i = 0;
  const n = value.length;
  while (i < n) {
    const c = value.charAt(i);
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
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
    } else if (SPECIALS.includes(c)) {
      i++;
    } else {
      while (i < n && !SPECIALS.includes(value.charAt(i)) && !/[ \t\r\n]/.test(value.charAt(i))) i++;
    }
    count++;
    if (count === limit && i < n && /[^ \t\r\n]/.test(value.slice(i))) return i;
  }
  return undefined;
}
