// regexp_table(5) and pcre_table(5): ordered `/pattern/flags result` rules,
// `!/pattern/` negation, `if /pattern/` ... `endif` blocks, and `$1`/`${1}`
// substitution of captured text in the result. Keys are not case-folded; the
// `i` flag (on by default) does that. Postfix's dict_regexp.c / dict_pcre.c.
import { readFile } from 'node:fs/promises';
import type { Dict } from './dict-api.js';
import { compilePattern, MAX_SUBJECT } from './regexp-compile.js';
import { logicalLines, TableSyntaxError } from './table-source.js';

type Rule =
  | { kind: 'match'; re: RegExp; negate: boolean; result: string; line: number }
  | { kind: 'if'; re: RegExp; negate: boolean; end: number; line: number }
  | { kind: 'endif' };

interface ParsedPattern {
  pattern: string;
  flags: string;
  negate: boolean;
  rest: string;
}

/** `[!]<d>pattern<d>flags rest`, where <d> is any non-alphanumeric delimiter. */
function parsePattern(text: string, where: string): ParsedPattern {
  let p = 0;
  let negate = false;
  while (text[p] === '!' || /\s/.test(text[p] ?? '')) {
    if (text[p] === '!') negate = !negate;
    p++;
  }
  const delim = text[p];
  if (delim === undefined || /[A-Za-z0-9\\\s]/.test(delim)) {
    throw new TableSyntaxError(`${where}: no regular expression delimiter`);
  }
  let i = p + 1;
  for (; i < text.length; i++) {
    if (text[i] === '\\' && i + 1 < text.length) i++;
    else if (text[i] === delim) break;
  }
  if (i >= text.length) throw new TableSyntaxError(`${where}: missing closing delimiter "${delim}"`);
  const pattern = text.slice(p + 1, i);
  const m = /^(\S*)\s*(.*)$/s.exec(text.slice(i + 1));
  return { pattern, flags: m?.[1] ?? '', negate, rest: m?.[2] ?? '' };
}

/** Highest `$n` in a result; `$$` is a literal dollar. */
function maxReference(result: string, where: string): { max: number; all: number[] } {
  let max = 0;
  const all: number[] = [];
  for (const m of result.matchAll(/\$(\$|\d|\{(\d+)\}|\{|)/g)) {
    if (m[1] === '$') continue;
    const n = m[2] ?? (/^\d$/.test(m[1] ?? '') ? m[1] : undefined);
    if (n === undefined) throw new TableSyntaxError(`${where}: bad replacement syntax: skipping this rule`);
    max = Math.max(max, Number(n));
    all.push(Number(n));
  }
  return { max, all };
}

function substitute(result: string, m: RegExpExecArray): string {
  return result.replace(/\$(\$|\d|\{(\d+)\})/g, (_all, a: string, b: string | undefined) =>
    a === '$' ? '$' : (m[Number(b ?? a)] ?? ''),
  );
}

export function parseRegexpTable(
  kind: 'regexp' | 'pcre',
  text: string,
  file: string,
  warn: (t: string) => void,
): Rule[] {
  const rules: Rule[] = [];
  const open: number[] = [];
  for (const ll of logicalLines(text, file)) {
    const where = `${kind} map ${file}, line ${ll.line}`;
    try {
      if (/^endif\b/i.test(ll.text)) {
        const start = open.pop();
        if (start === undefined) {
          warn(`${where}: ignoring ENDIF without matching IF`);
          continue;
        }
        const r = rules[start];
        if (r?.kind === 'if') r.end = rules.length;
        rules.push({ kind: 'endif' });
      } else if (/^if\b/i.test(ll.text)) {
        const p = parsePattern(ll.text.slice(2), where);
        if (p.rest !== '') warn(`${where}: ignoring extra text after IF statement: "${p.rest}"`);
        const { re } = compilePattern(kind, p.pattern, p.flags, where);
        open.push(rules.length);
        rules.push({ kind: 'if', re, negate: p.negate, end: -1, line: ll.line });
      } else {
        const p = parsePattern(ll.text, where);
        if (p.rest === '') warn(`${where}: no replacement text: using empty string`);
        const { re, groups } = compilePattern(kind, p.pattern, p.flags, where);
        const ref = maxReference(p.rest, where);
        if (p.negate && ref.max > 0) {
          throw new TableSyntaxError(`${where}: $number found in negative match replacement text: skipping this rule`);
        }
        // Postfix rejects $0 while parsing the text, and a too-high index after compiling.
        const zero = ref.all.find((n) => n < 1);
        if (zero !== undefined) {
          warn(`${where}: out-of-range replacement index "${zero}"`);
          throw new TableSyntaxError(`${where}: bad replacement syntax: skipping this rule`);
        }
        if (ref.max > groups) {
          throw new TableSyntaxError(`${where}: out of range replacement index "${ref.max}": skipping this rule`);
        }
        rules.push({ kind: 'match', re, negate: p.negate, result: p.rest, line: ll.line });
      }
    } catch (e) {
      if (!(e instanceof TableSyntaxError)) throw e;
      // Postfix skips a bad rule with a warning and keeps the rest of the table.
      warn(e.message);
    }
  }
  for (const start of open) {
    const r = rules[start];
    warn(`${kind} map ${file}, line ${r?.kind === 'if' ? r.line : 0}: IF has no matching ENDIF`);
    if (r?.kind === 'if') r.end = rules.length;
  }
  return rules;
}

export function lookupRules(rules: readonly Rule[], fullKey: string): string | undefined {
  // Only the first MAX_SUBJECT characters are matched: bounded work per
  // lookup, while an oversized header still meets every rule (refusing to
  // match it at all would let padding slip past header_checks).
  const key = fullKey.length > MAX_SUBJECT ? fullKey.slice(0, MAX_SUBJECT) : fullKey;
  let i = 0;
  while (i < rules.length) {
    const r = rules[i];
    if (r === undefined) break;
    if (r.kind === 'if') {
      const hit = r.re.test(key) !== r.negate;
      i = hit ? i + 1 : r.end + 1;
      continue;
    }
    if (r.kind === 'match') {
      const m = r.re.exec(key);
      if (m && !r.negate) return substitute(r.result, m);
      if (!m && r.negate) return r.result;
    }
    i++;
  }
  return undefined;
}

export async function openRegexpTable(
  spec: string,
  kind: 'regexp' | 'pcre',
  file: string,
  warn: (t: string) => void,
): Promise<Dict> {
  const rules = parseRegexpTable(kind, await readFile(file, 'utf8'), file, warn);
  return {
    spec,
    lookup: (key) => Promise.resolve(lookupRules(rules, key)),
    close: () => Promise.resolve(),
  };
}
