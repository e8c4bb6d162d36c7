// The parts of Content-Type / Content-Transfer-Encoding headers that decide a
// message's MIME structure (Postfix's mime_state.c tokenising): type and
// subtype, the multipart boundary, and the encoding domain.

export interface ContentType {
  readonly type: string;
  readonly subtype: string;
  readonly boundary?: string;
}

export type EncodingDomain = '7bit' | '8bit' | 'binary' | 'encoded' | 'unknown';

/** Header names that are MIME headers (mime_header_checks), lower case. */
export const MIME_HEADERS: ReadonlySet<string> = new Set([
  'content-description',
  'content-disposition',
  'content-id',
  'content-transfer-encoding',
  'content-type',
  'mime-version',
]);

/** Strip RFC 822 comments (nested, bounded) so they cannot hide a parameter. */
function stripComments(value: string): string {
  let out = '';
  let depth = 0;
  let inQuote = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i);
    if (c === '\\' && (inQuote || depth > 0)) {
      if (depth === 0) out += c + value.charAt(i + 1);
      i++;
      continue;
    }
    if (inQuote) {
      if (c === '"') inQuote = false;
      out += c;
    } else if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0) {
      if (c === '"') inQuote = true;
      out += c;
    }
  }
  return out;
}

/** `type/subtype; boundary=...` from a header value (unfolded). */
export function parseContentType(value: string): ContentType | undefined {
  const v = stripComments(value.slice(0, 8192));
  const m = /^\s*([^\s/;]+)\s*\/\s*([^\s;]+)/.exec(v);
  if (!m) return undefined;
  const type = (m[1] ?? '').toLowerCase();
  const subtype = (m[2] ?? '').toLowerCase();
  const b = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))/i.exec(v.slice(m[0].length));
  const boundary = b ? (b[1] !== undefined ? b[1].replace(/\\(.)/g, '$1') : (b[2] ?? '')) : undefined;
  return boundary !== undefined && boundary !== '' ? { type, subtype, boundary } : { type, subtype };
}

export function encodingDomain(value: string): EncodingDomain {
  const token = stripComments(value).trim().toLowerCase();
  if (token === '7bit' || token === '8bit' || token === 'binary') return token;
  if (token === 'base64' || token === 'quoted-printable') return 'encoded';
  return 'unknown';
}
