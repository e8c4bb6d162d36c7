// Tables held entirely in memory once opened: texthash (the source file read
// at open time), inline:{...}, static, fail, environ and unix (getpwnam-style
// lookups from /etc/passwd and /etc/group). Postfix's dict_thash.c,
// dict_inline.c, dict_static.c, dict_fail.c, dict_env.c and dict_unix.c.
import { readFile } from 'node:fs/promises';
import { DictRetryError, type Dict } from './dict-api.js';
import { parseKeyValueTable, TableSyntaxError } from './table-source.js';
import { splitBraceList, stripBraces } from './spec.js';
import { decodeSource, foldKey } from './utf8-mode.js';

/** A finished in-memory table; first entry for a key wins, as in Postfix. */
export class MapDict implements Dict {
  constructor(
    readonly spec: string,
    private readonly map: ReadonlyMap<string, string>,
    private readonly fold = true,
    private readonly utf8 = true,
  ) {}

  lookup(key: string): Promise<string | undefined> {
    return Promise.resolve(this.map.get(this.fold ? foldKey(key, this.utf8) : key));
  }

  async *sequence(): AsyncIterable<[string, string]> {
    await Promise.resolve();
    for (const e of this.map) yield e;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export async function openTexthash(
  spec: string,
  file: string,
  warn: (t: string) => void,
  fold = true,
  utf8 = true,
): Promise<Dict> {
  const text = decodeSource(await readFile(file), file, utf8, warn);
  const map = new Map<string, string>();
  const entries = parseKeyValueTable(text, file, {
    fold,
    utf8,
    warn,
    badLineSuffix: ' -- ignoring this line',
    duplicates: { warn: (key, line) => warn(`${file}, line ${line}: duplicate entry: "${key}"`) },
  });
  for (const e of entries) map.set(e.key, e.value);
  return new MapDict(spec, map, fold, utf8);
}

/** `inline:{ key=value, { key = text with spaces } }`; a later duplicate wins, as in Postfix. */
export function openInline(spec: string, name: string, fold = true): Dict {
  const body = stripBraces(name);
  if (body === undefined || body === '') {
    throw new TableSyntaxError(`bad syntax: "${spec}"; need "inline:{name=value...}"`);
  }
  const map = new Map<string, string>();
  for (const item of splitBraceList(body)) {
    const inner = stripBraces(item) ?? item;
    const eq = inner.indexOf('=');
    const key = eq < 0 ? '' : inner.slice(0, eq).trim();
    if (eq < 0 || key === '') {
      throw new TableSyntaxError(`missing '=' after attribute name: "${spec}"; need "inline:{name=value...}"`);
    }
    map.set(fold ? key.toLowerCase() : key, inner.slice(eq + 1).trim());
  }
  return new MapDict(spec, map, fold);
}

/** `static:value` or `static:{ value with spaces }`: every key finds the value. */
export function openStatic(spec: string, name: string): Dict {
  if (name.startsWith('{') && stripBraces(name) === undefined) {
    throw new TableSyntaxError(`bad static:name syntax: missing '}' in "${name}"`);
  }
  const value = stripBraces(name) ?? name;
  return {
    spec,
    lookup: () => Promise.resolve(value),
    close: () => Promise.resolve(),
  };
}

/** `fail:name`: every lookup fails temporarily. */
export function openFail(spec: string): Dict {
  return {
    spec,
    lookup: () => Promise.reject(new DictRetryError(`${spec}: Application error`)),
    close: () => Promise.resolve(),
  };
}

/**
 * `environ:table`: the environment a Postfix program runs with, which is the
 * $import_environment list (NAME or NAME=value), not everything the caller had.
 */
export function openEnviron(spec: string, importEnvironment: readonly string[]): Dict {
  const env = new Map<string, string>();
  for (const item of importEnvironment) {
    const eq = item.indexOf('=');
    if (eq > 0) env.set(item.slice(0, eq), item.slice(eq + 1));
    else if (process.env[item] !== undefined) env.set(item, process.env[item] ?? '');
  }
  return {
    spec,
    lookup: (key) => Promise.resolve(env.get(key)),
    close: () => Promise.resolve(),
  };
}

/**
 * How long one reading of /etc/passwd or /etc/group answers lookups. Reading
 * the file per lookup (smtpd checks local_recipient_maps on every RCPT TO for
 * a local domain) was a tenth of the core worker's time under load; a second
 * is far shorter than nscd's caching, so a new user is known almost at once.
 */
const UNIX_TABLE_TTL_MS = 1000;
const unixTables = new Map<string, { readonly at: number; readonly entries: Promise<Map<string, string>> }>();

/** name → line, first line per name winning as with getpwnam; one read shared by concurrent lookups. */
function unixTable(file: string): Promise<Map<string, string>> {
  const now = Date.now();
  const hit = unixTables.get(file);
  if (hit && now - hit.at >= 0 && now - hit.at < UNIX_TABLE_TTL_MS) return hit.entries;
  const entries = readFile(file, 'utf8').then((text) => {
    const m = new Map<string, string>();
    for (const line of text.split('\n')) {
      const colon = line.indexOf(':');
      if (colon > 0 && !m.has(line.slice(0, colon))) m.set(line.slice(0, colon), line.trimEnd());
    }
    return m;
  });
  unixTables.set(file, { at: now, entries });
  // A failed read is not kept: the next lookup tries again.
  entries.catch(() => {
    if (unixTables.get(file)?.entries === entries) unixTables.delete(file);
  });
  return entries;
}

/** `unix:passwd.byname` and `unix:group.byname`, answered like getpwnam/getgrnam. */
export function openUnix(spec: string, name: string): Dict {
  const file = name === 'passwd.byname' ? '/etc/passwd' : name === 'group.byname' ? '/etc/group' : undefined;
  if (!file) throw new TableSyntaxError(`unknown table: ${spec}`);
  return {
    spec,
    async lookup(key: string): Promise<string | undefined> {
      try {
        return (await unixTable(file)).get(key);
      } catch (e) {
        throw new DictRetryError(`${spec}: ${(e as Error).message}`);
      }
    },
    close: () => Promise.resolve(),
  };
}
