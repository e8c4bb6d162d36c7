// Indexed table files built by postmap/postalias: `hash`, `btree` (file.db) and
// `lmdb` (file.lmdb), all stored with LMDB through the `lmdb` package (the file
// need not be Berkeley DB compatible; Postfix's dict_db.c / dict_lmdb.c).
// LMDB's transactions give readers in every process a consistent table
// while postmap rewrites it, so these tables need no reopen-on-change.
import { open, type RootDatabase } from 'lmdb';
import { accessSync, constants } from 'node:fs';
import { chown, stat } from 'node:fs/promises';
import type { Dict } from './dict-api.js';

export const INDEXED_TYPES = ['hash', 'btree', 'lmdb'] as const;
export type IndexedType = (typeof INDEXED_TYPES)[number];

export const isIndexedType = (t: string): t is IndexedType => (INDEXED_TYPES as readonly string[]).includes(t);

/** LMDB's key size limit in the lmdb package build. */
export const MAX_KEY_BYTES = 1978;

export function indexedPath(type: IndexedType | 'cdb', file: string): string {
  return file + (type === 'lmdb' ? '.lmdb' : type === 'cdb' ? '.cdb' : '.db');
}

interface Handle {
  readonly db: RootDatabase<string, string>;
  readonly readOnly: boolean;
  refs: number;
}

// LMDB allows one environment per file per process, so every user in this
// process (readers, and postmap's writer) shares one reference-counted handle.
// It is opened read-write when the file is writable, so an in-process rebuild
// reuses it; read-only otherwise (a daemon reading root's tables).
const handles = new Map<string, Handle>();

function acquire(path: string, write: boolean): RootDatabase<string, string> {
  const h = handles.get(path);
  if (h) {
    if (write && h.readOnly) throw new Error(`${path}: table is open read-only in this process`);
    h.refs++;
    return h.db;
  }
  let readOnly = !write;
  if (!write) {
    try {
      accessSync(path, constants.W_OK);
      readOnly = false;
    } catch {
      readOnly = true;
    }
  }
  const db = open<string, string>({ path, noSubdir: true, encoding: 'string', readOnly, cache: false });
  handles.set(path, { db, readOnly, refs: 1 });
  return db;
}

async function release(path: string): Promise<void> {
  const h = handles.get(path);
  if (!h) return;
  h.refs--;
  if (h.refs > 0) return;
  handles.delete(path);
  await h.db.close();
}

export interface BuildResult {
  readonly path: string;
  readonly count: number;
}

/**
 * Replace the contents of `file.db`/`file.lmdb` in one LMDB write transaction.
 * The file is rewritten in place rather than renamed over: LMDB's lock file
 * belongs to the data file, and readers in other processes (daemons holding
 * the table open) see the new contents atomically at their next lookup.
 * `onDuplicate` is told about each key already written; the first value is
 * kept, as Postfix's DICT_FLAG_DUP_WARN.
 */
export async function buildIndexed(
  type: IndexedType,
  file: string,
  entries: Iterable<[string, string]>,
  onDuplicate: (key: string) => void,
  onTooLong: (key: string) => void,
  owner?: { uid: number; gid: number },
): Promise<BuildResult> {
  const path = indexedPath(type, file);
  const db = acquire(path, true);
  let count = 0;
  try {
    db.transactionSync(() => {
      db.clearSync();
      for (const [k, v] of entries) {
        if (k === '' || Buffer.byteLength(k) > MAX_KEY_BYTES) {
          onTooLong(k);
          continue;
        }
        if (db.get(k) !== undefined) {
          onDuplicate(k);
          continue;
        }
        db.putSync(k, v);
        count++;
      }
    });
    await db.flushed;
  } finally {
    await release(path);
  }
  if (owner) {
    await chown(path, owner.uid, owner.gid);
    await chown(`${path}-lock`, owner.uid, owner.gid).catch(() => undefined);
  }
  return { path, count };
}

/** Apply incremental changes in place (postmap -i / -d): returns keys deleted. */
export async function updateIndexed(
  type: IndexedType,
  file: string,
  puts: Iterable<[string, string]>,
  deletes: Iterable<string>,
): Promise<string[]> {
  const path = indexedPath(type, file);
  const db = acquire(path, true);
  const removed: string[] = [];
  try {
    db.transactionSync(() => {
      for (const [k, v] of puts) db.putSync(k, v);
      for (const k of deletes) if (db.removeSync(k)) removed.push(k);
    });
    await db.flushed;
  } finally {
    await release(path);
  }
  return removed;
}

export async function openIndexedFile(spec: string, type: IndexedType, file: string, fold: boolean): Promise<Dict> {
  const path = indexedPath(type, file);
  await stat(path); // a missing table is an error naming the file, not an empty table
  const db = acquire(path, false);
  return {
    spec,
    lookup(key: string): Promise<string | undefined> {
      const k = fold ? key.toLowerCase() : key;
      if (k === '' || Buffer.byteLength(k) > MAX_KEY_BYTES) return Promise.resolve(undefined);
      return Promise.resolve(db.get(k));
    },
    async *sequence(): AsyncIterable<[string, string]> {
      await Promise.resolve();
      for (const { key, value } of db.getRange()) yield [String(key), value];
    },
    close: () => release(path),
  };
}
