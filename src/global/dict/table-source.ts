// Reading Postfix table source text (postmap(1), postalias(1), texthash, regexp,
// cidr ...): comments and blank lines are skipped, a line that starts with
// whitespace continues the previous logical line, and every logical line keeps
// the number of the line where it started so errors can name file and line.
import { foldKey } from './utf8-mode.js';

/** Longest logical line accepted; a table line longer than this is a mistake, not data. */
export const MAX_LOGICAL_LINE = 1024 * 1024;

export interface LogicalLine {
  /** 1-based number of the first physical line. */
  readonly line: number;
  /** Joined text, newline characters removed, trailing whitespace trimmed. */
  readonly text: string;
}

export class TableSyntaxError extends Error {
  override name = 'TableSyntaxError';
}

function isBlankOrComment(raw: string): boolean {
  const t = raw.trimStart();
  return t === '' || t.startsWith('#');
}

/** Split source text into logical lines the way Postfix's readllines() does. */
export function logicalLines(text: string, file = 'table'): LogicalLine[] {
  const out: LogicalLine[] = [];
  const physical = text.split('\n');
  let cur: { line: number; text: string } | undefined;
  const flush = (): void => {
    if (cur) out.push({ line: cur.line, text: cur.text.replace(/\s+$/, '') });
    cur = undefined;
  };
  for (let i = 0; i < physical.length; i++) {
    const raw = (physical[i] ?? '').replace(/\r$/, '');
    if (isBlankOrComment(raw)) continue;
    if (/^\s/.test(raw) && cur) {
      cur.text += raw;
    } else {
      flush();
      // A leading-whitespace line with nothing to continue is taken as is,
      // trimmed, so that a stray indent at the top of a file is not fatal.
      cur = { line: i + 1, text: raw.trimStart() };
    }
    if (cur.text.length > MAX_LOGICAL_LINE) {
      throw new TableSyntaxError(`${file}, line ${cur.line}: line too long (over ${MAX_LOGICAL_LINE} bytes)`);
    }
  }
  flush();
  return out;
}

/** `key whitespace value`: undefined when the line has no value. */
export function splitKeyValue(text: string): { key: string; value: string } | undefined {
  const m = /^(\S+)\s+(\S.*)$/s.exec(text);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  return { key: m[1], value: m[2] };
}

export interface TableEntry {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

export interface ParseOptions {
  /** Fold keys to lower case (Postfix does, unless `postmap -f`). */
  readonly fold?: boolean;
  /** UTF-8 case folding (default); false folds ASCII letters only (`-u`). */
  readonly utf8?: boolean;
  readonly warn?: (text: string) => void;
  /** Appended to the malformed-line warning (texthash says "-- ignoring this line"). */
  readonly badLineSuffix?: string;
  /**
   * Resolve duplicate keys while reading, so warnings come out in line order
   * as Postfix prints them: keep the first (default) or, with `replace`, the last.
   */
  readonly duplicates?: { readonly replace?: boolean; readonly warn?: (key: string, line: number) => void };
}

/**
 * Parse a `key value` table source. Malformed lines are warned about and
 * skipped, as postmap does. Duplicates are kept unless `opts.duplicates` is
 * given, because Postfix words that warning differently per table type.
 */
export function parseKeyValueTable(text: string, file: string, opts: ParseOptions = {}): TableEntry[] {
  const entries: TableEntry[] = [];
  const index = new Map<string, number>();
  for (const ll of logicalLines(text, file)) {
    const kv = splitKeyValue(ll.text);
    if (!kv) {
      opts.warn?.(`${file}, line ${ll.line}: expected format: key whitespace value${opts.badLineSuffix ?? ''}`);
      continue;
    }
    const key = opts.fold === false ? kv.key : foldKey(kv.key, opts.utf8 ?? true);
    const entry = { key, value: kv.value, line: ll.line };
    const dup = opts.duplicates ? index.get(entry.key) : undefined;
    if (opts.duplicates && dup !== undefined) {
      if (opts.duplicates.replace) entries[dup] = entry;
      else opts.duplicates.warn?.(entry.key, ll.line);
      continue;
    }
    index.set(entry.key, entries.length);
    entries.push(entry);
  }
  return entries;
}
