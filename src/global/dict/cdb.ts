// The cdb constant-database format (D. J. Bernstein's public specification),
// read and written here because the format is small and fixed: a 2048-byte
// header of 256 (position, length) slots, the records, then 256 open-addressed
// hash tables. Postfix's dict_cdb.c; `postmap cdb:file` writes `file.cdb`.
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import type { Dict } from './dict-api.js';
import { foldKey } from './utf8-mode.js';
import { decodeStored, encodeStored, keyVariants, type NullMode } from './null-byte.js';
import { TableSyntaxError } from './table-source.js';

const MAX_CDB_BYTES = 0xffffffff;

export function cdbHash(key: Buffer): number {
  let h = 5381;
  for (const c of key) h = (((h << 5) + h) ^ c) >>> 0;
  return h;
}

/** Encode entries (first occurrence of a key wins) into a cdb image. */
export function buildCdb(entries: Iterable<[string, string]>, withNull = false): Buffer {
  const records: Buffer[] = [];
  const slots: { hash: number; pos: number }[][] = Array.from({ length: 256 }, () => []);
  let pos = 2048;
  for (const [k, v] of entries) {
    const kb = encodeStored(k, withNull);
    const vb = encodeStored(v, withNull);
    const head = Buffer.alloc(8);
    head.writeUInt32LE(kb.length, 0);
    head.writeUInt32LE(vb.length, 4);
    records.push(head, kb, vb);
    const hash = cdbHash(kb);
    slots[hash & 255]?.push({ hash, pos });
    pos += 8 + kb.length + vb.length;
    if (pos > MAX_CDB_BYTES) throw new TableSyntaxError('cdb file too large');
  }
  const header = Buffer.alloc(2048);
  const tables: Buffer[] = [];
  for (let i = 0; i < 256; i++) {
    const list = slots[i] ?? [];
    const len = list.length * 2;
    header.writeUInt32LE(pos, i * 8);
    header.writeUInt32LE(len, i * 8 + 4);
    const table = Buffer.alloc(len * 8);
    const used = new Array<boolean>(len).fill(false);
    for (const s of list) {
      let slot = (s.hash >>> 8) % len;
      while (used[slot]) slot = (slot + 1) % len;
      used[slot] = true;
      table.writeUInt32LE(s.hash, slot * 8);
      table.writeUInt32LE(s.pos, slot * 8 + 4);
    }
    tables.push(table);
    pos += table.length;
    if (pos > MAX_CDB_BYTES) throw new TableSyntaxError('cdb file too large');
  }
  return Buffer.concat([header, ...records, ...tables]);
}

/** Lookup in a cdb image; undefined when absent. Bounds are checked: a damaged file never throws RangeError. */
export function cdbGet(img: Buffer, key: Buffer): Buffer | undefined {
  if (img.length < 2048) return undefined;
  const hash = cdbHash(key);
  const tpos = img.readUInt32LE((hash & 255) * 8);
  const tlen = img.readUInt32LE((hash & 255) * 8 + 4);
  if (tlen === 0 || tpos + tlen * 8 > img.length) return undefined;
  let slot = (hash >>> 8) % tlen;
  for (let n = 0; n < tlen; n++) {
    const h = img.readUInt32LE(tpos + slot * 8);
    const rpos = img.readUInt32LE(tpos + slot * 8 + 4);
    if (rpos === 0) return undefined;
    if (h === hash && rpos + 8 <= img.length) {
      const klen = img.readUInt32LE(rpos);
      const vlen = img.readUInt32LE(rpos + 4);
      const end = rpos + 8 + klen + vlen;
      if (end <= img.length && klen === key.length && img.subarray(rpos + 8, rpos + 8 + klen).equals(key)) {
        return img.subarray(rpos + 8 + klen, end);
      }
    }
    slot = (slot + 1) % tlen;
  }
  return undefined;
}

/** All records in file order. */
export function* cdbRecords(img: Buffer): Generator<[Buffer, Buffer]> {
  if (img.length < 2048) return;
  // Records end where the first hash table starts.
  let end = img.length;
  for (let i = 0; i < 256; i++) end = Math.min(end, img.readUInt32LE(i * 8));
  let pos = 2048;
  while (pos + 8 <= end) {
    const klen = img.readUInt32LE(pos);
    const vlen = img.readUInt32LE(pos + 4);
    if (pos + 8 + klen + vlen > end) return;
    yield [img.subarray(pos + 8, pos + 8 + klen), img.subarray(pos + 8 + klen, pos + 8 + klen + vlen)];
    pos += 8 + klen + vlen;
  }
}

/** Write `file.cdb` atomically; keys and values carry a NUL only when `withNull` (`postmap -N`). */
export async function writeCdbFile(path: string, entries: Iterable<[string, string]>, withNull = false): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, buildCdb(entries, withNull), { flush: true });
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

export async function openCdbFile(
  spec: string,
  path: string,
  fold: boolean,
  nulls: NullMode = 'both',
  utf8 = true,
): Promise<Dict> {
  const img = await readFile(path);
  return {
    spec,
    lookup(key: string): Promise<string | undefined> {
      for (const k of keyVariants(fold ? foldKey(key, utf8) : key, nulls)) {
        const v = cdbGet(img, k);
        if (v !== undefined) return Promise.resolve(decodeStored(v));
      }
      return Promise.resolve(undefined);
    },
    async *sequence(): AsyncIterable<[string, string]> {
      await Promise.resolve();
      for (const [k, v] of cdbRecords(img)) yield [decodeStored(k), decodeStored(v)];
    },
    close: () => Promise.resolve(),
  };
}
