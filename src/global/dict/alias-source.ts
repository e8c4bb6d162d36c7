// aliases(5) source syntax for postalias(1): `name: value, value ...` with
// continuation lines and comments. The name may be quoted; values are
// re-spaced the way Postfix re-externalises parsed addresses ("a,b ,  c"
// becomes "a, b, c"), with quoted strings kept intact.
import { foldKey } from './utf8-mode.js';
import { logicalLines, type TableEntry } from './table-source.js';

/** Index of the first `ch` outside double quotes (with backslash escapes), or -1. */
function indexOutsideQuotes(text: string, ch: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ch && !quoted) return i;
  }
  return -1;
}

function splitOutsideQuotes(text: string, ch: string): string[] {
  const parts: string[] = [];
  let rest = text;
  for (let at = indexOutsideQuotes(rest, ch); at >= 0; at = indexOutsideQuotes(rest, ch)) {
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}

/** Collapse whitespace runs outside quotes to one space. */
function respace(text: string): string {
  let out = '';
  let quoted = false;
  let pendingSpace = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (!quoted && /\s/.test(c)) {
      pendingSpace = out !== '';
      continue;
    }
    if (pendingSpace) out += ' ';
    pendingSpace = false;
    if (c === '\\') {
      out += c + (text[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    out += c;
  }
  return out;
}

export function normalizeAliasValue(value: string): string {
  return splitOutsideQuotes(value, ',')
    .map((v) => respace(v))
    .filter((v) => v !== '')
    .join(', ');
}

function unquote(name: string): string {
  const t = name.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).replace(/\\(.)/g, '$1') : t;
}

export interface AliasParseOptions {
  readonly fold?: boolean;
  /** UTF-8 case folding (default); false folds ASCII letters only (`-u`). */
  readonly utf8?: boolean;
  readonly warn?: (text: string) => void;
  readonly duplicates?: { readonly replace?: boolean; readonly warn?: (key: string, line: number) => void };
}

export function parseAliases(text: string, file: string, opts: AliasParseOptions = {}): TableEntry[] {
  const entries: TableEntry[] = [];
  const index = new Map<string, number>();
  for (const ll of logicalLines(text, file)) {
    const colon = indexOutsideQuotes(ll.text, ':');
    const name = colon > 0 ? unquote(ll.text.slice(0, colon)) : '';
    const value = colon > 0 ? normalizeAliasValue(ll.text.slice(colon + 1)) : '';
    if (name === '' || value === '') {
      opts.warn?.(`${file}, line ${ll.line}: need name:value pair`);
      continue;
    }
    const key = opts.fold === false ? name : foldKey(name, opts.utf8 ?? true);
    const dup = index.get(key);
    if (dup !== undefined) {
      if (opts.duplicates?.replace) entries[dup] = { key, value, line: ll.line };
      else opts.duplicates?.warn?.(key, ll.line);
      continue;
    }
    index.set(key, entries.length);
    entries.push({ key, value, line: ll.line });
  }
  return entries;
}
