// 8bit → 7bit downgrade for servers that do not announce 8BITMIME
// (RFC 6152 section 3; Postfix's mime_state.c does this on output): every
// MIME leaf part that holds 8-bit data and is not already base64 or
// quoted-printable is re-encoded as quoted-printable, recursing into
// multipart and message/rfc822 parts. Header lines are left alone, as in
// Postfix. Works on the whole message in memory (latin1 string, one char per
// byte); the size is bounded by message_size_limit upstream.

const MAX_DEPTH = 20;

export function convertTo7bit(message: string, depth = 0): string {
  const split = splitEntity(message);
  if (!split) return message;
  const { header, body } = split;
  const fields = parseFields(header);
  const ctype = fields.get('content-type') ?? '';
  const cte = (fields.get('content-transfer-encoding') ?? '').trim().toLowerCase();
  const type = ctype.split(';')[0]?.trim().toLowerCase() ?? '';
  if (depth < MAX_DEPTH && type.startsWith('multipart/')) {
    const boundary = /boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i.exec(ctype);
    const b = boundary?.[1] ?? boundary?.[2];
    if (b) return `${header}\r\n\r\n${convertMultipart(body, b, depth)}`;
  }
  if (depth < MAX_DEPTH && type === 'message/rfc822') return `${header}\r\n\r\n${convertTo7bit(body, depth + 1)}`;
  if (cte === 'base64' || cte === 'quoted-printable' || !/[\x80-\xff]/.test(body)) return message;
  const newHeader = setHeader(header, 'Content-Transfer-Encoding', 'quoted-printable');
  return `${newHeader}\r\n\r\n${encodeQuotedPrintable(body)}`;
}

/** Header and body of one entity; an entity without a blank line is all header. */
function splitEntity(text: string): { header: string; body: string } | undefined {
  if (text.startsWith('\r\n')) return { header: '', body: text.slice(2) };
  const i = text.indexOf('\r\n\r\n');
  if (i < 0) return undefined;
  return { header: text.slice(0, i), body: text.slice(i + 4) };
}

function parseFields(header: string): Map<string, string> {
  const out = new Map<string, string>();
  const unfolded = header.replace(/\r\n[ \t]/g, ' ');
  for (const line of unfolded.split('\r\n')) {
    const m = /^([!-9;-~]+):\s*(.*)$/.exec(line);
    if (m?.[1] && !out.has(m[1].toLowerCase())) out.set(m[1].toLowerCase(), m[2] ?? '');
  }
  return out;
}

function setHeader(header: string, name: string, value: string): string {
  const re = new RegExp(`^${name}:.*(?:\\r\\n[ \\t].*)*$`, 'im');
  if (re.test(header)) return header.replace(re, `${name}: ${value}`);
  return header ? `${header}\r\n${name}: ${value}` : `${name}: ${value}`;
}

function convertMultipart(body: string, boundary: string, depth: number): string {
  const lines = body.split('\r\n');
  const out: string[] = [];
  let part: string[] | undefined;
  let done = false;
  const flush = (): void => {
    if (part) out.push(convertTo7bit(part.join('\r\n'), depth + 1));
    part = undefined;
  };
  for (const line of lines) {
    if (!done && line.startsWith(`--${boundary}`)) {
      const tail = line.slice(boundary.length + 2);
      if (/^--\s*$/.test(tail) || /^\s*$/.test(tail)) {
        flush();
        out.push(line);
        if (tail.startsWith('--')) done = true;
        else part = [];
        continue;
      }
    }
    if (part) part.push(line);
    else out.push(line);
  }
  flush();
  return out.join('\r\n');
}

/** RFC 2045 section 6.7, with soft line breaks before 76 characters. */
export function encodeQuotedPrintable(text: string): string {
  const out: string[] = [];
  for (const line of text.split('\r\n')) {
    let enc = '';
    let cur = '';
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      const last = i === line.length - 1;
      let piece: string;
      if (c === 0x3d || c >= 0x7f || (c < 0x20 && c !== 0x09) || ((c === 0x20 || c === 0x09) && last)) {
        piece = `=${c.toString(16).toUpperCase().padStart(2, '0')}`;
      } else piece = line[i] ?? '';
      if (cur.length + piece.length > 75) {
        enc += `${cur}=\r\n`;
        cur = '';
      }
      cur += piece;
    }
    out.push(enc + cur);
  }
  return out.join('\r\n');
}
