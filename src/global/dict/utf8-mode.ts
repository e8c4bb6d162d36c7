// UTF-8 in lookup tables, as Postfix's dict_utf8.c: with smtputf8_enable on
// (and no postmap/postalias `-u`), keys fold with Unicode case rules and a
// source line that is not valid UTF-8 is skipped with a warning; with UTF-8
// support off only ASCII letters fold and other bytes are left alone.
import { isUtf8 } from 'node:buffer';
import type { ParamReader } from '../params/types.js';

/** Whether UTF-8 support is on for a command given `-u` or not. */
export function utf8Enabled(noUtf8Flag: boolean, config: ParamReader): boolean {
  return !noUtf8Flag && config.bool('smtputf8_enable');
}

/** Lower-case a key: every letter in UTF-8 mode, ASCII letters only otherwise (C's tolower()). */
export function foldKey(key: string, utf8: boolean): string {
  return utf8 ? key.toLowerCase() : key.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/**
 * Decode a table source. In UTF-8 mode a line that is not valid UTF-8 is
 * warned about (non-printable bytes shown as `?`) and blanked, keeping the
 * line numbers of the rest.
 */
export function decodeSource(buf: Buffer, file: string, utf8: boolean, warn: (text: string) => void): string {
  if (!utf8 || isUtf8(buf)) return buf.toString('utf8');
  const lines: string[] = [];
  let start = 0;
  let n = 0;
  while (start <= buf.length) {
    let end = buf.indexOf(0x0a, start);
    if (end < 0) end = buf.length;
    const line = buf.subarray(start, end);
    n++;
    if (isUtf8(line)) {
      lines.push(line.toString('utf8'));
    } else {
      const shown = [...line].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '?')).join('');
      warn(`${file}, line ${n}: non-UTF-8 input "${shown}" -- ignoring this line`);
      lines.push('');
    }
    start = end + 1;
  }
  return lines.join('\n');
}
