// Indexed table files built by postmap/postalias: `hash`, `btree` (file.db) and
// `lmdb` (file.lmdb), all stored with LMDB through the `lmdb` package (the file
// need not be Berkeley DB compatible; Postfix's dict_db.c / dict_lmdb.c).
// LMDB's transactions give readers in every process a consistent table
// while postmap rewrites it, so these tables need no reopen-on-change.
// Keys and values are stored as bytes, with or without the C null byte as
// Postfix's postmap -N/-n decide (null-byte.ts).
import { open, type RootDatabase } from 'lmdb';
import { accessSync, closeSync, constants, openSync, readSync } from 'node:fs';
import { chown, stat, unlink } from 'node:fs/promises';
import type { Dict } from './dict-api.js';
import { foldKey } from './utf8-mode.js';
import { decodeStored, encodeStored, keyVariants, writesNull, type NullMode } from './null-byte.js';

export const INDEXED_TYPES = ['hash', 'btree', 'lmdb'] as const;
export type IndexedType = (typeof INDEXED_TYPES)[number];

export const isIndexedType = (t: string): t is IndexedType => (INDEXED_TYPES as readonly string[]).includes(t);

/** LMDB's key size limit in the lmdb package build. */
export const MAX_KEY_BYTES = 1978;

export function indexedPath(type: IndexedType | 'cdb', file: string): string {
  return file + (type === 'lmdb' ? '.lmdb' : type === 'cdb' ? '.cdb' : '.db');
}

type Db = RootDatabase<Buffer, Buffer>;

interface Handle {
  readonly db: Db;
  readonly readOnly: boolean;
  refs: number;
}

// LMDB allows one environment per file per process, so every user in this
// process (readers, and postmap's writer) shares one reference-counted handle.
// It is opened read-write when the file is writable, so an in-process rebuild
// reuses it; read-only otherwise (a daemon reading root's tables).
const handles = new Map<string, Handle>();

/** Thrown for a file that is not an LMDB environment this build can open. */
export class ForeignTableError extends Error {
  override name = 'ForeignTableError';
}

const LMDB_MAGIC = 0xbeefc0de;

/**
 * What the first page of `path` says it is: `postern`, `empty`, or a description
 * of another format. Opening another format with LMDB
 * would crash the process, not fail, so every open looks first.
 */
export function tableFormat(path: string): string {
  const head = Buffer.alloc(64);
  let n: number;
  const fd = openSync(path, 'r');
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n === 0) return 'empty';
  for (let off = 0; off + 8 <= n; off += 4) {
    if (head.readUInt32LE(off) !== LMDB_MAGIC) continue;
    const version = head.readUInt32LE(off + 4);
    if (version === 2) return 'postern';
    return `LMDB data format ${version} file (as Postfix's postmap writes)`;
  }
  if (n >= 16) {
    const magic = head.readUInt32LE(12);
    if (magic === 0x061561) return 'Berkeley DB hash file';
    if (magic === 0x053162) return 'Berkeley DB btree file';
  }
  return 'file of unknown format';
}

function assertOurs(path: string): void {
  const f = tableFormat(path);
  if (f !== 'postern') {
    throw new ForeignTableError(`open database ${path}: ${f}, not a Postern table; rebuild it with Postern's postmap`);
  }
}

function acquire(path: string, write: boolean): Db {
  const h = handles.get(path);
  if (h) {
    if (write && h.readOnly) throw new Error(`${path}: table is open read-only in this process`);
    h.refs++;
    return h.db;
  }
  if (!write) assertOurs(path);
  let readOnly = !write;
  if (!write) {
    try {
      accessSync(path, constants.W_OK);
      readOnly = false;
    } catch {
      readOnly = true;
    }
  }
  const db = open<Buffer, Buffer>({
    path,
    noSubdir: true,
    keyEncoding: 'binary',
    encoding: 'binary',
    readOnly,
    cache: false,
  });
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
  withNull = true,
): Promise<BuildResult> {
  const path = indexedPath(type, file);
  await replaceForeign(path);
  const db = acquire(path, true);
  let count = 0;
  try {
    db.transactionSync(() => {
      db.clearSync();
      for (const [k, v] of entries) {
        const kb = encodeStored(k, withNull);
        if (k === '' || kb.length > MAX_KEY_BYTES) {
          onTooLong(k);
          continue;
        }
        if (db.get(kb) !== undefined) {
          onDuplicate(k);
          continue;
        }
        db.putSync(kb, encodeStored(v, withNull));
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

/**
 * A table file left by another program (Postfix's Berkeley DB or LMDB 0.9
 * format) is removed before a full rebuild: its contents are being replaced
 * anyway, and LMDB cannot open it.
 */
async function replaceForeign(path: string): Promise<void> {
  if (handles.has(path)) return;
  let f: string;
  try {
    f = tableFormat(path);
  } catch {
    return; // absent: created by open()
  }
  if (f === 'postern') return;
  await unlink(path);
  await unlink(`${path}-lock`).catch(() => undefined);
}

/**
 * Apply incremental changes in place (postmap -i / -d): returns keys deleted.
 * Additions store the NUL unless `-n`; a deletion removes the key in every
 * form `nulls` allows.
 */
export async function updateIndexed(
  type: IndexedType,
  file: string,
  puts: Iterable<[string, string]>,
  deletes: Iterable<string>,
  nulls: NullMode = 'both',
): Promise<string[]> {
  const path = indexedPath(type, file);
  if (!handles.has(path)) {
    let f = 'empty';
    try {
      f = tableFormat(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (f !== 'postern' && f !== 'empty') assertOurs(path);
  }
  const db = acquire(path, true);
  const removed: string[] = [];
  const withNull = writesNull(nulls, true);
  try {
    db.transactionSync(() => {
      for (const [k, v] of puts) db.putSync(encodeStored(k, withNull), encodeStored(v, withNull));
      for (const k of deletes) {
        let gone = false;
        for (const kb of keyVariants(k, nulls)) if (db.removeSync(kb)) gone = true;
        if (gone) removed.push(k);
      }
    });
    await db.flushed;
  } finally {
    await release(path);
  }
  return removed;
}

export async function openIndexedFile(
  spec: string,
  type: IndexedType,
  file: string,
  fold: boolean,
  nulls: NullMode = 'both',
  utf8 = true,
): Promise<Dict> {
  const path = indexedPath(type, file);
  await stat(path); // a missing table is an error naming the file, not an empty table
  const db = acquire(path, false);
  return {
    spec,
    lookup(key: string): Promise<string | undefined> {
      const k = fold ? foldKey(key, utf8) : key;
      if (k === '') return Promise.resolve(undefined);
      for (const kb of keyVariants(k, nulls)) {
        if (kb.length > MAX_KEY_BYTES) continue;
        const v = db.get(kb);
        if (v !== undefined) return Promise.resolve(decodeStored(v));
      }
      return Promise.resolve(undefined);
    },
    async *sequence(): AsyncIterable<[string, string]> {
      await Promise.resolve();
      for (const { key, value } of db.getRange()) yield [decodeStored(key), decodeStored(value)];
    },
    close: () => release(path),
  };
}
