// How postconf prints master.cf entries (-M, -Mf, -F, -P) and how it writes
// an edited entry back: Postfix's normalised column layout, `{}` around words
// with whitespace, `-o name=value` pairs, and folding below 80 columns.
import { quoteWord } from '../../global/mastercf/parse.js';
import type { MasterEntry } from '../../global/mastercf/types.js';

/** Start column of the type, private, unpriv, chroot, wakeup, maxproc and command fields. */
const COLUMNS = [11, 17, 25, 33, 41, 49, 57] as const;
/** Folded lines stay shorter than this. */
const FOLD_WIDTH = 80;
const FOLD_INDENT = '    ';

export const FIELD_NAMES = [
  'service',
  'type',
  'private',
  'unprivileged',
  'chroot',
  'wakeup',
  'process_limit',
  'command',
] as const;
export type FieldName = (typeof FIELD_NAMES)[number];

/** Arguments after the command as postconf prints them (normalised `-o` pairs, re-braced words). */
export function entryArgv(e: MasterEntry): string[] {
  return (e.argv ?? [...[...e.overrides].flatMap(([k, v]) => ['-o', `${k}=${v}`]), ...e.args]).map(quoteWord);
}

/** The command field: command name and arguments. */
export function commandField(e: MasterEntry): string {
  return [e.command, ...entryArgv(e)].join(' ');
}

/** The eight fields as printed by -F. */
export function fieldValue(e: MasterEntry, field: FieldName): string {
  switch (field) {
    case 'service':
      return e.name;
    case 'type':
      return e.type;
    case 'private':
      return e.columns[0];
    case 'unprivileged':
      return e.columns[1];
    case 'chroot':
      return e.columns[2];
    case 'wakeup':
      return e.columns[3];
    case 'process_limit':
      return e.columns[4];
    case 'command':
      return commandField(e);
  }
}

/** The seven leading columns padded to Postfix's tab stops (at least one space apart). */
function columnsText(e: MasterEntry): string {
  const fields = [e.name, e.type, ...e.columns];
  let out = '';
  fields.forEach((f, i) => {
    out += f;
    const stop = COLUMNS[i] ?? 0;
    out += ' '.repeat(Math.max(1, stop - out.length));
  });
  return out;
}

/** One entry in -M form: one line, or folded (-Mf) with each `-o` pair on its own line. */
export function formatEntry(e: MasterEntry, fold: boolean): string {
  const head = columnsText(e) + e.command;
  const argv = entryArgv(e);
  if (!fold) return [head, ...argv].join(' ');
  const lines: string[] = [];
  let cur = head;
  let newLine = false;
  // `-o` pairs get their own line only among the leading options, where the daemon honours them.
  let options = true;
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i] ?? '';
    if (!w.startsWith('-') || w === '-' || w === '--') options = false;
    if (options && w === '-o' && i + 1 < argv.length) {
      lines.push(cur);
      cur = `${FOLD_INDENT}-o ${argv[++i] ?? ''}`;
      newLine = true;
      continue;
    }
    if (newLine || cur.length + 1 + w.length >= FOLD_WIDTH) {
      lines.push(cur);
      cur = FOLD_INDENT + w;
    } else {
      cur += ' ' + w;
    }
    newLine = false;
  }
  lines.push(cur);
  return lines.join('\n');
}

/** `name = value` lines for -P, parameters sorted by name. */
export function formatParams(e: MasterEntry): string[] {
  return [...e.overrides.keys()].sort().map((k) => {
    // Printed like main.cf values: whitespace runs collapsed.
    const v = (e.overrides.get(k) ?? '').split(/\s+/).filter(Boolean).join(' ');
    return v === '' ? `${e.name}/${e.type}/${k} =` : `${e.name}/${e.type}/${k} = ${v}`;
  });
}
