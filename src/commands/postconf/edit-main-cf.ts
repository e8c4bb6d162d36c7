// postconf -e / -X / -# and plain `name=value` arguments: edit main.cf in
// place, keeping comments, order and unrelated lines, and replace the file
// atomically (temp file, fsync, rename) so a crash never leaves half a file.
import { closeSync, fsyncSync, openSync, renameSync, statSync, writeSync, unlinkSync } from 'node:fs';
import { readConfigFile } from '../../global/params/read-config-file.js';

export type MainCfEdit = { kind: 'set'; value: string } | { kind: 'remove' } | { kind: 'comment' };

export class EditError extends Error {
  override name = 'EditError';
}

/** Parse `name=value` as postconf -e does; whitespace around both is dropped. */
export function parseAssignment(arg: string): { name: string; value: string } {
  const eq = arg.indexOf('=');
  if (eq < 0) throw new EditError(`missing '=' after attribute name: "${arg}"`);
  const name = arg.slice(0, eq).trim();
  if (name === '') throw new EditError(`missing attribute name: "${arg}"`);
  return { name, value: arg.slice(eq + 1).trim() };
}

/** The name an entry line starts, or undefined for comments, blanks and continuations. */
function entryName(line: string): string | undefined {
  if (/^\s/.test(line) || /^#/.test(line) || line === '') return undefined;
  const m = /^([^=\s]+)\s*=/.exec(line);
  return m?.[1];
}

/** Apply edits to main.cf text; names not present are appended (set only), in name order. */
export function editMainCfText(text: string, edits: ReadonlyMap<string, MainCfEdit>): string {
  const lines = text.split('\n');
  const trailingNewline = text.endsWith('\n');
  if (trailingNewline) lines.pop();
  const out: string[] = [];
  const seen = new Set<string>();
  let current: MainCfEdit | undefined;
  for (const line of lines) {
    const name = entryName(line.replace(/\r$/, ''));
    if (name !== undefined || (!/^\s/.test(line) && line !== '')) current = undefined;
    if (name !== undefined) {
      const edit = edits.get(name);
      current = edit;
      if (edit) seen.add(name);
      if (edit?.kind === 'set') out.push(`${name} = ${edit.value}`);
      else if (edit?.kind === 'comment') out.push(`#${line}`);
      else if (!edit) out.push(line);
      continue;
    }
    // A continuation line belongs to the entry above it.
    if (current && /^\s/.test(line) && line.trim() !== '') {
      if (current.kind === 'comment') out.push(`#${line}`);
      continue;
    }
    out.push(line);
  }
  for (const name of [...edits.keys()].sort()) {
    const e = edits.get(name);
    if (e?.kind === 'set' && !seen.has(name)) out.push(`${name} = ${e.value}`);
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/** Replace `file` with `text` atomically, keeping its permissions. */
export function writeFileAtomic(file: string, text: string): void {
  // The same temporary name as Postfix, so a failure message reads the same.
  const tmp = `${file}.tmp`;
  let mode = 0o644;
  try {
    mode = statSync(file).mode & 0o7777;
  } catch {
    // A new file gets the usual mode.
  }
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
}

/** Edit `file` in place; a missing file starts empty, as with postconf -e on a new directory. */
export function editMainCf(file: string, edits: ReadonlyMap<string, MainCfEdit>): void {
  let text = '';
  try {
    text = readConfigFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  writeFileAtomic(file, editMainCfText(text, edits));
}
