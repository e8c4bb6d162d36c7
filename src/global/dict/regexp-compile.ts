// Turning a regexp_table(5) / pcre_table(5) pattern and its flags into a
// JavaScript RegExp. POSIX ERE bracket classes ([[:alpha:]]) are translated,
// basic expressions (regexp `x` flag off) through regexp-basic.ts;
// PCRE's `x` (extended) is applied by removing whitespace and comments because
// JavaScript has no such flag. Catastrophic backtracking cannot be ruled out
// with a backtracking engine, so subjects are truncated to MAX_SUBJECT and
// patterns with nested unbounded quantifiers are refused at load time.
import { translateBasic } from './regexp-basic.js';
import { TableSyntaxError } from './table-source.js';

/** Longest subject matched; longer lookup keys are matched on this prefix. */
export const MAX_SUBJECT = 16 * 1024;

export const POSIX_CLASSES: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: 'A-Za-z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  print: ' -~',
  graph: '!-~',
  cntrl: '\\x00-\\x1f\\x7f',
  xdigit: '0-9A-Fa-f',
};

function translatePosixClasses(src: string, where: string): string {
  return src.replace(/\[:([a-z]+):\]/g, (_m, name: string) => {
    const cls = POSIX_CLASSES[name];
    if (cls === undefined) throw new TableSyntaxError(`${where}: unknown character class [:${name}:]`);
    return cls;
  });
}

function stripExtended(src: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i] ?? '';
    if (c === '\\') {
      out += c + (src[i + 1] ?? '');
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
    } else if (/\s/.test(c)) {
      continue;
    } else if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
    } else out += c;
  }
  return out;
}

/**
 * Refuse a quantified group whose body itself has an unbounded quantifier,
 * e.g. `(a+)+` or `(x*y*)*`: the classic exponential-backtracking shape.
 */
function assertNoNestedQuantifiers(src: string, where: string): void {
  const stack: boolean[] = [];
  let inner = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      while (i < src.length && src[i] !== ']') i += src[i] === '\\' ? 2 : 1;
      continue;
    }
    if (c === '(') {
      stack.push(inner);
      inner = false;
    } else if (c === ')') {
      const groupHasUnbounded = inner;
      inner = stack.pop() ?? false;
      const q = src[i + 1];
      const unboundedAfter = q === '*' || q === '+' || (q === '{' && /^\{\d*,\}/.test(src.slice(i + 1)));
      if (groupHasUnbounded && unboundedAfter) {
        throw new TableSyntaxError(`${where}: nested unbounded repetition is not allowed (backtracking risk)`);
      }
      if (groupHasUnbounded || unboundedAfter) inner = true;
    } else if (c === '*' || c === '+' || (c === '{' && /^\{\d*,\}/.test(src.slice(i)))) {
      inner = true;
    }
  }
}

export interface CompiledPattern {
  readonly re: RegExp;
  /** Number of capture groups, to validate `$n` in results. */
  readonly groups: number;
}

/** Compile for `regexp` (POSIX ERE) or `pcre` with Postfix's flag letters. */
export function compilePattern(
  kind: 'regexp' | 'pcre',
  pattern: string,
  flags: string,
  where: string,
): CompiledPattern {
  let icase = true;
  let multiline = false;
  // pcre_table(5): PCRE_DOTALL is on by default and `s` turns it off.
  let dotall = kind === 'pcre';
  let extended = kind === 'regexp'; // regexp: `x` toggles REG_EXTENDED; pcre: `x` is PCRE_EXTENDED
  let anchored = false;
  for (const f of flags) {
    switch (f) {
      case 'i':
        icase = !icase;
        break;
      case 'm':
        multiline = !multiline;
        break;
      case 'x':
        extended = !extended;
        break;
      case 's':
        if (kind !== 'pcre') throw new TableSyntaxError(`${where}: unknown regexp option "${f}"`);
        dotall = !dotall;
        break;
      case 'A':
        if (kind !== 'pcre') throw new TableSyntaxError(`${where}: unknown regexp option "${f}"`);
        anchored = !anchored;
        break;
      case 'E':
      case 'X':
        // PCRE_DOLLAR_ENDONLY/PCRE_EXTRA: lookup keys are single lines, so these change nothing here.
        if (kind !== 'pcre') throw new TableSyntaxError(`${where}: unknown regexp option "${f}"`);
        break;
      default:
        throw new TableSyntaxError(`${where}: unknown ${kind} option "${f}"`);
    }
  }
  let src = pattern;
  if (kind === 'regexp') {
    src = extended ? translatePosixClasses(src, where) : translateBasic(src, where);
  } else {
    if (extended) src = stripExtended(src);
    src = translatePosixClasses(src, where);
  }
  if (anchored) src = `^(?:${src})`;
  // POSIX regexec() lets `.` match a newline (in joined multi-line headers)
  // unless REG_NEWLINE, which is what the regexp `m` flag turns on.
  if (kind === 'regexp' && !multiline) dotall = true;
  assertNoNestedQuantifiers(src, where);
  let re: RegExp;
  try {
    re = new RegExp(src, `${icase ? 'i' : ''}${multiline ? 'm' : ''}${dotall ? 's' : ''}`);
  } catch (e) {
    throw new TableSyntaxError(`${where}: ${(e as Error).message}`);
  }
  const groups = new RegExp(`${re.source}|`).exec('')!.length - 1;
  return { re, groups };
}
