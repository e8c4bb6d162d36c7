// Untrusted client text made safe for one log line: control and non-ASCII
// bytes become C-style escapes (`\r`, `\n`, `\t`, `\ooo`) and the result is
// truncated, so a client can neither forge log lines nor flood the log.

export function printable(b: Buffer, max = 100): string {
  let out = '';
  const n = Math.min(b.length, max);
  for (let i = 0; i < n; i++) {
    const c = b[i] ?? 0;
    if (c === 0x0d) out += '\\r';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x5c) out += '\\\\';
    else if (c < 0x20 || c > 0x7e) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(c);
  }
  return out;
}

/** A client-supplied string (HELO name, address) for logs: escaped like `printable`, at most `max` bytes. */
export function printableText(s: string, max = 250): string {
  return printable(Buffer.from(s, 'utf8'), max);
}
