// POSIX basic regular expressions (regexp_table(5) patterns with the `x`
// flag, which turns REG_EXTENDED off) rewritten for the JavaScript engine:
// `\(` `\)` groups, `\{m,n\}` intervals, `*` literal at the start, `^` and `$`
// anchors only at the ends of the pattern or a group, bracket expressions in
// which a backslash is an ordinary character, and the GNU extensions that
// Postfix gets from glibc's regcomp() (`\+ \? \| \< \> \w \W \s \S \b \B`).
// What has no faithful translation is refused with a message naming it.
import { TableSyntaxError } from './table-source.js';
import { POSIX_CLASSES } from './regexp-compile.js';

/** Characters a JavaScript pattern treats as operators but a BRE treats as themselves. */
const JS_SPECIAL = new Set(['+', '?', '|', '(', ')', '{', '}', '/']);

/** A bracket expression starting at src[start] === '['; returns the JS text and the index after `]`. */
function bracket(src: string, start: number, where: string): { js: string; next: number } {
  let i = start + 1;
  let js = '[';
  if (src[i] === '^') {
    js += '^';
    i++;
  }
  // A `]` first in the list is a member, not the end.
  if (src[i] === ']') {
    js += '\\]';
    i++;
  }
  for (; i < src.length; i++) {
    const c = src[i] ?? '';
    if (c === ']') return { js: `${js}]`, next: i + 1 };
    if (c === '[' && (src[i + 1] === ':' || src[i + 1] === '=' || src[i + 1] === '.')) {
      const kind = src[i + 1] ?? '';
      const end = src.indexOf(`${kind}]`, i + 2);
      if (end < 0) throw new TableSyntaxError(`${where}: unterminated [${kind} in bracket expression`);
      const name = src.slice(i + 2, end);
      if (kind !== ':') {
        throw new TableSyntaxError(`${where}: [${kind}${name}${kind}] in a bracket expression cannot be translated`);
      }
      const cls = POSIX_CLASSES[name];
      if (cls === undefined) throw new TableSyntaxError(`${where}: unknown character class [:${name}:]`);
      js += cls;
      i = end + 1;
      continue;
    }
    // Inside brackets a backslash and `[` are ordinary characters in POSIX.
    js += c === '\\' || c === '[' || c === '/' ? `\\${c}` : c;
  }
  throw new TableSyntaxError(`${where}: unmatched [ in regular expression`);
}

/** Translate a basic regular expression; `where` names the table file and line for errors. */
export function translateBasic(src: string, where: string): string {
  let out = '';
  // Where `*` is literal and `^` is an anchor: the start of the pattern or of a group, or after `\|`.
  let atStart = true;
  let depth = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i] ?? '';
    const startHere = atStart;
    atStart = false;
    if (c === '\\') {
      const n = src[i + 1];
      i++;
      if (n === undefined) throw new TableSyntaxError(`${where}: trailing backslash in regular expression`);
      if (n === '(') {
        out += '(';
        depth++;
        atStart = true;
      } else if (n === ')') {
        if (depth === 0) throw new TableSyntaxError(`${where}: unmatched \\) in regular expression`);
        out += ')';
        depth--;
      } else if (n === '|') {
        out += '|';
        atStart = true;
      } else if (n === '{') {
        const end = src.indexOf('\\}', i + 1);
        const body = end < 0 ? '' : src.slice(i + 1, end);
        if (!/^\d+(,\d*)?$/.test(body))
          throw new TableSyntaxError(`${where}: bad \\{\\} interval in regular expression`);
        out += `{${body}}`;
        i = end + 1;
      } else if (n === '+' || n === '?') {
        out += n;
      } else if (n === '<') {
        out += '\\b(?=\\w)';
      } else if (n === '>') {
        out += '\\b(?<=\\w)';
      } else if (/[1-9wWsSbB]/.test(n)) {
        out += `\\${n}`;
      } else if (/[.*[\]^$\\/]/.test(n)) {
        out += `\\${n}`;
      } else if (n === '}') {
        throw new TableSyntaxError(`${where}: unmatched \\} in regular expression`);
      } else {
        throw new TableSyntaxError(`${where}: "\\${n}" in a basic regular expression cannot be translated`);
      }
    } else if (c === '[') {
      const b = bracket(src, i, where);
      out += b.js;
      i = b.next - 1;
    } else if (c === '*') {
      out += startHere ? '\\*' : '*';
    } else if (c === '^') {
      out += startHere ? '^' : '\\^';
      if (startHere) atStart = true;
    } else if (c === '$') {
      const last = i === src.length - 1 || src.startsWith('\\)', i + 1) || src.startsWith('\\|', i + 1);
      out += last ? '$' : '\\$';
    } else if (JS_SPECIAL.has(c)) {
      out += `\\${c}`;
    } else {
      out += c;
    }
  }
  if (depth > 0) throw new TableSyntaxError(`${where}: unmatched \\( in regular expression`);
  return out;
}
