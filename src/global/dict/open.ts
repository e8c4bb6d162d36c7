// openDict(): the one entry point that turns `type:name` into a Dict, for every
// daemon and command. Tables are cached per process so the same table named
// in several parameters is opened once (what Postfix's proxymap gives a
// whole system), and file-backed tables reopen themselves when rebuilt.
// Postfix's dict_open.c / mkmap_open.c.
import type { ParamReader } from '../params/types.js';
import { openCdbFile } from './cdb.js';
import { openCidrTable } from './cidr-table.js';
import { openPipe, openRandom, openUnion } from './composite.js';
import type { Dict } from './dict-api.js';
import { indexedPath, isIndexedType, openIndexedFile } from './indexed.js';
import { MapDict, openEnviron, openFail, openInline, openStatic, openTexthash, openUnix } from './memory-dict.js';
import type { NullMode } from './null-byte.js';
import { openRegexpTable } from './regexp-table.js';
import { ReloadingDict } from './reloading.js';
import { openSocketmap, openTcp } from './socket-client.js';
import { splitSpec } from './spec.js';
import { TableSyntaxError } from './table-source.js';
import { SERVER_TYPES } from './server-types.js';

export interface OpenDictOptions {
  readonly config?: ParamReader;
  /** Where load-time warnings go (a Logger's warning()); default: stderr. */
  readonly warn?: (text: string) => void;
  /** Fold keys to lower case (default yes; `postmap -f` says no). */
  readonly fold?: boolean;
  /** Indexed tables: keys stored with the C null byte (`-N`), without (`-n`), or try both (default). */
  readonly nulls?: NullMode;
  /** UTF-8 case folding of keys (default); false folds ASCII only (postmap -u, smtputf8_enable = no). */
  readonly utf8?: boolean;
}

export interface OpenContext {
  readonly spec: string;
  readonly type: string;
  readonly name: string;
  readonly config: ParamReader | undefined;
  readonly warn: (text: string) => void;
  readonly fold: boolean;
  readonly nulls: NullMode;
  readonly utf8: boolean;
  /** Open a nested table (unionmap, pipemap, proxy) with the same options. */
  readonly open: (spec: string) => Promise<Dict>;
}

export type DictOpener = (ctx: OpenContext) => Promise<Dict>;

const IMPORT_ENVIRONMENT_DEFAULT =
  'MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME';

function importEnvironment(config: ParamReader | undefined): string[] {
  return config ? config.list('import_environment') : IMPORT_ENVIRONMENT_DEFAULT.split(' ');
}

const reloading = (ctx: OpenContext, path: string, load: () => Promise<Dict>): Promise<Dict> =>
  ReloadingDict.open(ctx.spec, path, load);

const OPENERS: Record<string, DictOpener> = {
  btree: (c) => openIndexed(c),
  hash: (c) => openIndexed(c),
  lmdb: (c) => openIndexed(c),
  cdb: (c) =>
    reloading(c, indexedPath('cdb', c.name), () =>
      openCdbFile(c.spec, indexedPath('cdb', c.name), c.fold, c.nulls, c.utf8),
    ),
  texthash: (c) => reloading(c, c.name, () => openTexthash(c.spec, c.name, c.warn, c.fold, c.utf8)),
  regexp: (c) => reloading(c, c.name, () => openRegexpTable(c.spec, 'regexp', c.name, c.warn)),
  pcre: (c) => reloading(c, c.name, () => openRegexpTable(c.spec, 'pcre', c.name, c.warn)),
  cidr: (c) => reloading(c, c.name, () => openCidrTable(c.spec, c.name, c.warn)),
  inline: (c) => Promise.resolve(openInline(c.spec, c.name, c.fold)),
  static: (c) => Promise.resolve(openStatic(c.spec, c.name)),
  fail: (c) => Promise.resolve(openFail(c.spec)),
  environ: (c) => Promise.resolve(openEnviron(c.spec, importEnvironment(c.config))),
  unix: (c) => Promise.resolve(openUnix(c.spec, c.name)),
  unionmap: (c) => openUnion(c.spec, c.name, c.open),
  pipemap: (c) => openPipe(c.spec, c.name, c.open),
  randmap: (c) => Promise.resolve(openRandom(c.spec, c.name)),
  // A table that lives in one process's memory; opened from outside it is empty.
  internal: (c) => Promise.resolve(new MapDict(c.spec, new Map(), c.fold)),
  // proxymap's job (sharing one open table among processes) is done by the
  // per-process cache; the inner table is opened directly, once its name is
  // approved as proxymap(8) would.
  proxy: (c) => {
    assertProxyApproved(c);
    return c.open(c.name);
  },
  socketmap: (c) => Promise.resolve(openSocketmap(c.spec, c.name)),
  tcp: (c) => Promise.resolve(openTcp(c.spec, c.name)),
  ...SERVER_TYPES,
};

/**
 * proxymap(8) serves only tables listed as `proxy:type:name` in
 * $proxy_read_maps. Enforced when the caller gives its configuration (every
 * daemon and command does); a bare library call has none to check against.
 */
function assertProxyApproved(c: OpenContext): void {
  if (!c.config) return;
  const approved = c.config
    .list('proxy_read_maps')
    .filter((m) => m.startsWith('proxy:'))
    .map((m) => m.slice('proxy:'.length));
  if (approved.includes(c.name)) return;
  c.warn(`request for unapproved table: "${c.name}"`);
  c.warn(`to approve this table for read-only access, list proxy:${c.name} in main.cf:proxy_read_maps`);
  throw new DictOpenError(`proxymap service is not configured for table "${c.name}"`);
}

function openIndexed(c: OpenContext): Promise<Dict> {
  const type = c.type;
  if (!isIndexedType(type)) throw new TableSyntaxError(`unsupported dictionary type: ${type}`);
  return openIndexedFile(c.spec, type, c.name, c.fold, c.nulls, c.utf8);
}

/** Type names for `postconf -m`, sorted as Postfix prints them. */
export const DICT_TYPE_NAMES: readonly string[] = Object.keys(OPENERS).sort();

/** Types that postmap can build from a source file. */
export const BUILDABLE_TYPES: readonly string[] = ['btree', 'cdb', 'hash', 'lmdb'];

export class DictOpenError extends Error {
  override name = 'DictOpenError';
}

const cache = new Map<string, Promise<Dict>>();

const defaultWarn = (text: string): void => {
  process.stderr.write(`warning: ${text}\n`);
};

/** Open a table without the per-process cache (postmap uses this; tests too). */
export async function openDictUncached(spec: string, opts: OpenDictOptions = {}): Promise<Dict> {
  const parts = splitSpec(spec);
  if (!parts || parts.name === '') {
    throw new DictOpenError(`open dictionary: expecting "type:name" form instead of "${spec}"`);
  }
  const opener = OPENERS[parts.type];
  if (!opener) throw new DictOpenError(`unsupported dictionary type: ${parts.type}`);
  const ctx: OpenContext = {
    spec,
    type: parts.type,
    name: parts.name,
    config: opts.config,
    warn: opts.warn ?? defaultWarn,
    fold: opts.fold ?? true,
    nulls: opts.nulls ?? 'both',
    utf8: opts.utf8 ?? true,
    open: (inner) => openDict(inner, opts),
  };
  try {
    return await opener(ctx);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' || err.code === 'EACCES') {
      throw new DictOpenError(
        `open database ${err.path ?? parts.name}: ${err.code === 'ENOENT' ? 'No such file or directory' : 'Permission denied'}`,
      );
    }
    throw e;
  }
}

/**
 * Open `type:name`, sharing one instance per process. The returned table's
 * close() is a no-op because other users may hold it; closeAllDicts() ends them.
 */
export function openDict(spec: string, opts: OpenDictOptions = {}): Promise<Dict> {
  const key = `${opts.fold === false ? 'nofold:' : ''}${opts.utf8 === false ? 'ascii:' : ''}${opts.nulls && opts.nulls !== 'both' ? `${opts.nulls}:` : ''}${spec}`;
  let p = cache.get(key);
  if (!p) {
    p = openDictUncached(spec, opts);
    // A failed open is not cached, so a table created later is found.
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p.then(shared);
}

function shared(d: Dict): Dict {
  const out: Dict = {
    spec: d.spec,
    lookup: (k) => d.lookup(k),
    close: () => Promise.resolve(),
  };
  if (d.sequence) {
    const seq = d.sequence.bind(d);
    return { ...out, sequence: () => seq() };
  }
  return out;
}

export async function closeAllDicts(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const p of all) {
    const d = await p.catch(() => undefined);
    await d?.close();
  }
}
