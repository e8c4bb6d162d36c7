// Where verify(8) keeps its cache: address_verify_map names a Postern
// indexed table (`btree:`, `hash:` or `lmdb:` — one LMDB file, as postmap
// writes them, so `postmap -q`/`-s` read it), optionally behind `proxy:`;
// empty means process memory only, lost at reload or stop. Every update is
// one LMDB write transaction, so a crash leaves the old or the new entry.
// Other table types cannot be written here: the service falls back to memory
// with a warning rather than refusing to start (smtpd would then defer).
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  indexedPath,
  isIndexedType,
  openIndexedFile,
  updateIndexed,
  type IndexedType,
} from '../../global/dict/indexed.js';
import type { Dict } from '../../global/dict/dict-api.js';

export interface VerifyMap {
  /** The file (`/var/lib/postfix/verify_cache.db`), or `memory`, as the cleanup log line names it. */
  readonly name: string;
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  /** Every entry, for the cleanup run. */
  entries(): AsyncIterable<[string, string]>;
  close(): Promise<void>;
}

export class MemoryVerifyMap implements VerifyMap {
  readonly name = 'memory';
  private readonly m = new Map<string, string>();
  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.m.get(key));
  }
  put(key: string, value: string): Promise<void> {
    this.m.set(key, value);
    return Promise.resolve();
  }
  delete(keys: readonly string[]): Promise<void> {
    for (const k of keys) this.m.delete(k);
    return Promise.resolve();
  }
  async *entries(): AsyncIterable<[string, string]> {
    await Promise.resolve();
    yield* [...this.m.entries()];
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

class IndexedVerifyMap implements VerifyMap {
  constructor(
    readonly name: string,
    private readonly type: IndexedType,
    private readonly file: string,
    private readonly reader: Dict,
  ) {}
  get(key: string): Promise<string | undefined> {
    return this.reader.lookup(key);
  }
  async put(key: string, value: string): Promise<void> {
    await updateIndexed(this.type, this.file, [[key, value]], []);
  }
  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await updateIndexed(this.type, this.file, [], keys);
  }
  async *entries(): AsyncIterable<[string, string]> {
    if (this.reader.sequence) yield* this.reader.sequence();
  }
  close(): Promise<void> {
    return this.reader.close();
  }
}

export class UnsupportedVerifyMapError extends Error {
  override name = 'UnsupportedVerifyMapError';
}

/** Open (creating the file and its directory when needed) the table address_verify_map names. */
export async function openVerifyMap(spec: string): Promise<VerifyMap> {
  const s = spec.trim();
  if (s === '') return new MemoryVerifyMap();
  const inner = s.startsWith('proxy:') ? s.slice('proxy:'.length) : s;
  const colon = inner.indexOf(':');
  const type = colon > 0 ? inner.slice(0, colon) : '';
  const file = colon > 0 ? inner.slice(colon + 1) : '';
  if (!isIndexedType(type) || !file.startsWith('/')) {
    throw new UnsupportedVerifyMapError(
      `address_verify_map = ${s}: Postern keeps the verify cache only in a hash, btree or lmdb file with an absolute path`,
    );
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  // An empty update creates the LMDB file when it is missing (the reader needs it to exist).
  await updateIndexed(type, file, [], []);
  const reader = await openIndexedFile(s, type, file, false);
  return new IndexedVerifyMap(indexedPath(type, file), type, file, reader);
}

/**
 * Opens the table on first use, as Postfix's master starts verify(8) only
 * when a client first connects: a system that never verifies an address
 * never creates the file. A table that cannot be opened (no permission,
 * unsupported type) is reported once and replaced by memory.
 */
export class LazyVerifyMap implements VerifyMap {
  private opened: Promise<VerifyMap> | undefined;
  private current: VerifyMap | undefined;

  constructor(
    private readonly spec: string,
    private readonly warn: (text: string) => void,
  ) {}

  get name(): string {
    return this.current?.name ?? this.spec;
  }

  private map(): Promise<VerifyMap> {
    this.opened ??= openVerifyMap(this.spec).then(
      (m) => (this.current = m),
      (e: unknown) => {
        this.warn(`${(e as Error).message}; address verification results are kept in memory only`);
        return (this.current = new MemoryVerifyMap());
      },
    );
    return this.opened;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.map()).get(key);
  }
  async put(key: string, value: string): Promise<void> {
    await (await this.map()).put(key, value);
  }
  async delete(keys: readonly string[]): Promise<void> {
    await (await this.map()).delete(keys);
  }
  async *entries(): AsyncIterable<[string, string]> {
    // A cleanup run before any use has nothing to clean: do not create the file for it.
    if (!this.opened) return;
    yield* (await this.map()).entries();
  }
  async close(): Promise<void> {
    if (this.opened) await (await this.opened).close();
  }
}
