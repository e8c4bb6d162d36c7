// postconf -Me/-Fe/-Pe/-MX/-M#/-PX: edit master.cf entries in place. An
// edited entry is rewritten in postconf's folded form; every other line
// (comments, untouched entries) stays as written. The file is replaced atomically.
import { readConfigFile } from '../../global/params/read-config-file.js';
import { logicalLines, parseMasterCf, quoteWord } from '../../global/mastercf/parse.js';
import type { MasterEntry } from '../../global/mastercf/types.js';
import { EditError, writeFileAtomic } from './edit-main-cf.js';
import { FIELD_NAMES, formatEntry, type FieldName } from './master-format.js';

export type MasterEdit =
  | { kind: 'entry'; key: string; value: string }
  | { kind: 'field'; key: string; field: FieldName; value: string }
  | { kind: 'param'; key: string; param: string; value: string }
  | { kind: 'remove-param'; key: string; param: string }
  | { kind: 'remove'; key: string }
  | { kind: 'comment'; key: string };

/** Parse one entry text (`name type ... command args`), or throw the parser's fatal message. */
function parseOne(text: string): MasterEntry {
  const r = parseMasterCf(text + '\n');
  const bad = r.problems.find((p) => p.fatal);
  if (bad) throw new EditError(bad.message);
  const e = r.entries[0];
  if (!e) throw new EditError(`missing service entry: "${text}"`);
  return e;
}

function entryLine(e: MasterEntry, override: Partial<Record<FieldName, string>> = {}, argv?: string[]): string {
  const cmd = override.command ?? [e.command, ...(argv ?? e.argv ?? []).map(quoteWord)].join(' ');
  return [
    override.service ?? e.name,
    override.type ?? e.type,
    override.private ?? e.columns[0],
    override.unprivileged ?? e.columns[1],
    override.chroot ?? e.columns[2],
    override.wakeup ?? e.columns[3],
    override.process_limit ?? e.columns[4],
    cmd,
  ].join(' ');
}

/** Parse an edit request argument for the given mode. */
export function parseMasterEdit(mode: 'M' | 'F' | 'P', op: 'e' | 'X' | '#', arg: string): MasterEdit {
  if (op === 'e') {
    const eq = arg.indexOf('=');
    if (eq < 0) throw new EditError(`missing '=' after attribute name: "${arg}"`);
    const lhs = arg.slice(0, eq).trim();
    const value = arg.slice(eq + 1).trim();
    const parts = lhs.split('/');
    if (mode === 'M') {
      if (parts.length !== 2) throw new EditError(`-Me requires service_name/type=value: "${arg}"`);
      return { kind: 'entry', key: lhs, value };
    }
    if (parts.length !== 3) throw new EditError(`-${mode}e requires service_name/type/name=value: "${arg}"`);
    const key = `${parts[0]}/${parts[1]}`;
    const name = parts[2] ?? '';
    if (mode === 'F') {
      if (!(FIELD_NAMES as readonly string[]).includes(name))
        throw new EditError(`invalid service attribute name: "${name}"`);
      return { kind: 'field', key, field: name as FieldName, value };
    }
    if (/\s/.test(value)) throw new EditError('-Pe does not accept whitespace in parameter value');
    return { kind: 'param', key, param: name, value };
  }
  const parts = arg.split('/');
  if (mode === 'P' && op === 'X' && parts.length === 3)
    return { kind: 'remove-param', key: `${parts[0]}/${parts[1]}`, param: parts[2] ?? '' };
  if (mode === 'M' && parts.length === 2)
    return op === 'X' ? { kind: 'remove', key: arg } : { kind: 'comment', key: arg };
  throw new EditError(`-${mode}${op} is not supported for "${arg}"`);
}

/** Apply edits to master.cf text. Returns the new text and warnings for requests that matched nothing. */
export function editMasterCfText(text: string, edits: readonly MasterEdit[]): { text: string; warnings: string[] } {
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  // Physical line span of each logical entry: its first line and its continuation lines.
  const spans = logicalLines(text).map((ll) => {
    // Comment and blank lines may sit between continuation lines; the span ends at the last continuation.
    let end = ll.line;
    for (let j = ll.line; j < lines.length; j++) {
      const l = lines[j] ?? '';
      if (/^\s*(#|$)/.test(l)) continue;
      if (!/^\s/.test(l)) break;
      end = j + 1;
    }
    return { start: ll.line - 1, end, entry: parseMasterCf(ll.text + '\n').entries[0] };
  });
  const replacement = new Map<number, string[]>();
  const appended: string[] = [];
  const warnings: string[] = [];
  const find = (key: string): (typeof spans)[number] | undefined =>
    spans.find((s) => s.entry && `${s.entry.name}/${s.entry.type}` === key);
  const current = (s: (typeof spans)[number]): MasterEntry | undefined => {
    const r = replacement.get(s.start);
    return r ? (r.length ? parseOne(r.join(' ').replace(/^#/, '')) : undefined) : s.entry;
  };

  for (const ed of edits) {
    if (ed.kind === 'entry') {
      // Postfix matches the entry by the name and type written in the new text.
      const e = parseOne(ed.value);
      const span = find(`${e.name}/${e.type}`);
      const folded = formatEntry(e, true).split('\n');
      if (span) replacement.set(span.start, folded);
      else appended.push(...folded);
      continue;
    }
    const span = find(ed.key);
    const e = span && current(span);
    if (!span || !e) {
      if (ed.kind !== 'remove' && ed.kind !== 'comment')
        warnings.push(`unmatched service_name/type: "${requestText(ed)}"`);
      continue;
    }
    if (ed.kind === 'remove') {
      replacement.set(span.start, []);
      continue;
    }
    if (ed.kind === 'comment') {
      replacement.set(
        span.start,
        lines.slice(span.start, span.end).map((l) => `#${l}`),
      );
      continue;
    }
    let next: MasterEntry;
    if (ed.kind === 'field') {
      try {
        next = parseOne(entryLine(e, { [ed.field]: ed.value }));
      } catch {
        throw new EditError(`invalid ${ed.field} field "${ed.value}" in "${ed.value}"`);
      }
    } else {
      const argv = [...(e.argv ?? [])];
      const at = argv.findIndex((w, i) => argv[i - 1] === '-o' && w.split('=')[0] === ed.param);
      if (ed.kind === 'remove-param') {
        if (at > 0) argv.splice(at - 1, 2);
      } else if (at > 0) argv[at] = `${ed.param}=${ed.value}`;
      else {
        let last = -1;
        argv.forEach((w, i) => {
          if (w === '-o') last = i + 1;
        });
        argv.splice(last + 1, 0, '-o', `${ed.param}=${ed.value}`);
      }
      next = parseOne(entryLine(e, {}, argv));
    }
    replacement.set(span.start, formatEntry(next, true).split('\n'));
  }

  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const span = spans.find((s) => s.start === i);
    const r = span ? replacement.get(i) : undefined;
    if (span && r) {
      out.push(...r);
      i = span.end - 1;
      continue;
    }
    out.push(lines[i] ?? '');
  }
  out.push(...appended);
  return { text: out.length ? out.join('\n') + '\n' : '', warnings };
}

/** The request as the user wrote it, for warnings. */
function requestText(ed: MasterEdit): string {
  switch (ed.kind) {
    case 'field':
      return `${ed.key}/${ed.field}=${ed.value}`;
    case 'param':
      return `${ed.key}/${ed.param}=${ed.value}`;
    case 'remove-param':
      return `${ed.key}/${ed.param}`;
    default:
      return ed.key;
  }
}

export function editMasterCf(file: string, edits: readonly MasterEdit[]): string[] {
  const text = readConfigFile(file);
  const r = editMasterCfText(text, edits);
  writeFileAtomic(file, r.text);
  return r.warnings;
}
