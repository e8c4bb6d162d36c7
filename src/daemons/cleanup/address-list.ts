// RFC 5322 address lists (To:, Cc:, Bcc:) reduced to the addresses they name,
// in Postfix's internal form (quotes around a local part removed), for
// `sendmail -t` recipient extraction. Display names, comments, group names
// and source routes are dropped; malformed pieces are skipped, never fatal.

/** Split at top-level commas/semicolons, honouring quotes, comments, brackets and angle brackets. */
function splitTopLevel(value: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let depth = 0; // comment nesting
  let inQuote = false;
  let inAngle = false;
  let inLiteral = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i);
    if (c === '\\' && (inQuote || depth > 0)) {
      cur += c + value.charAt(i + 1);
      i++;
      continue;
    }
    if (depth > 0) {
      if (c === '(') depth++;
      else if (c === ')') depth--;
      continue; // comments are dropped
    }
    if (inQuote) {
      if (c === '"') inQuote = false;
      cur += c;
      continue;
    }
    if (c === '(') depth = 1;
    else if (c === '"') {
      inQuote = true;
      cur += c;
    } else if (c === '[') {
      inLiteral = true;
      cur += c;
    } else if (c === ']') {
      inLiteral = false;
      cur += c;
    } else if (c === '<') {
      inAngle = true;
      cur += c;
    } else if (c === '>') {
      inAngle = false;
      cur += c;
    } else if ((c === ',' || c === ';') && !inAngle && !inLiteral) {
      parts.push(cur);
      cur = '';
    } else if (c === ':' && !inAngle && !inLiteral) {
      cur = ''; // group display name ends here
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

function internalForm(spec: string): string {
  const at = spec.lastIndexOf('@');
  const local = at < 0 ? spec : spec.slice(0, at);
  const domain = at < 0 ? '' : spec.slice(at);
  const unquoted = /^".*"$/.test(local) ? local.slice(1, -1).replace(/\\(.)/g, '$1') : local;
  return unquoted + domain;
}

/** The addresses an address-list header value names (at most `limit`). */
export function parseAddressList(value: string, limit = 10000): string[] {
  const out: string[] = [];
  for (const part of splitTopLevel(value)) {
    if (out.length >= limit) break;
    let spec = part.trim();
    const angle = /<([^>]*)>/.exec(spec);
    if (angle) spec = (angle[1] ?? '').trim().replace(/^@[^:]*:/, ''); // drop a source route
    spec = spec.replace(/\s+(?=(?:[^"]*"[^"]*")*[^"]*$)/g, '');
    if (spec === '') continue;
    out.push(internalForm(spec));
  }
  return out;
}
