// Creating and updating indexed tables for postmap(1) and postalias(1): the
// duplicate-key policy (warn and keep the first, `-r` replace, `-w` quiet),
// the file owner rule (a table built by root belongs to the source file's
// owner unless `-o`), and incremental updates. Postfix's mkmap_open.c.
import { chown, stat } from 'node:fs/promises';
import { writeCdbFile } from './cdb.js';
import { buildIndexed, indexedPath, isIndexedType, updateIndexed } from './indexed.js';
import { foldKey } from './utf8-mode.js';
import { writesNull, type NullMode } from './null-byte.js';
import { TableSyntaxError } from './table-source.js';

export interface MkmapOptions {
  /** `-r`: a later duplicate replaces the earlier value, silently. */
  readonly replace?: boolean;
  /** `-w`: keep the first value without a warning. */
  readonly quietDuplicates?: boolean;
  /** Chown the result to the source file's owner (root running without `-o`). */
  readonly ownerFrom?: string;
  /** `-N`/`-n`; by default the type's own choice (a NUL for hash/btree/lmdb, none for cdb). */
  readonly nulls?: NullMode;
  readonly warn: (text: string) => void;
}

export const isBuildable = (type: string): boolean => isIndexedType(type) || type === 'cdb';

/** Resolve duplicates per the options, then write `file.db`/`.lmdb`/`.cdb` from scratch. */
export async function createTable(
  type: string,
  file: string,
  entries: Iterable<[string, string]>,
  opts: MkmapOptions,
): Promise<string> {
  const path = isIndexedType(type) || type === 'cdb' ? indexedPath(type, file) : undefined;
  if (path === undefined) {
    throw new TableSyntaxError(`unsupported dictionary type: ${type} does not support bulk-mode creation.`);
  }
  const merged = new Map<string, string>();
  for (const [k, v] of entries) {
    if (merged.has(k) && !opts.replace) {
      if (!opts.quietDuplicates) opts.warn(`${path}: duplicate entry: "${k}"`);
      continue;
    }
    merged.set(k, v);
  }
  let owner: { uid: number; gid: number } | undefined;
  if (opts.ownerFrom) {
    const s = await stat(opts.ownerFrom);
    owner = { uid: s.uid, gid: s.gid };
  }
  if (type === 'cdb') {
    await writeCdbFile(path, merged, writesNull(opts.nulls ?? 'both', false));
    if (owner) await chown(path, owner.uid, owner.gid);
    return path;
  }
  if (!isIndexedType(type)) throw new TableSyntaxError(`unsupported dictionary type: ${type}`);
  await buildIndexed(
    type,
    file,
    merged,
    (k) => opts.warn(`${path}: duplicate entry: "${k}"`),
    (k) => opts.warn(`${path}: key too long, ignoring: "${k.slice(0, 60)}..."`),
    owner,
    writesNull(opts.nulls ?? 'both', true),
  );
  return path;
}

/** `postmap -d` / `postalias -d`: delete `keys` from each `type:file`; true when any key was removed. */
export async function deleteKeys(
  specs: readonly string[],
  keys: readonly string[],
  fold: boolean,
  nulls: NullMode = 'both',
  utf8 = true,
): Promise<boolean> {
  const folded = keys.map((k) => (fold ? foldKey(k, utf8) : k));
  let any = false;
  for (const spec of specs) {
    const colon = spec.indexOf(':');
    const removed = await modifyTable(spec.slice(0, colon), spec.slice(colon + 1), [], folded, nulls);
    if (removed.length) any = true;
  }
  return any;
}

/** `-i` and `-d`: change an existing table in place (created when missing). */
export async function modifyTable(
  type: string,
  file: string,
  puts: Iterable<[string, string]>,
  deletes: Iterable<string>,
  nulls: NullMode = 'both',
): Promise<string[]> {
  if (!isIndexedType(type)) {
    throw new TableSyntaxError(`unsupported dictionary type: ${type} does not support incremental updates`);
  }
  return updateIndexed(type, file, puts, deletes, nulls);
}
