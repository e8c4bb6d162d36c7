// postmap(1): build indexed tables from `key value` source files, and query,
// list, update or delete entries in any table type Postern supports. Exit
// status as Postfix's: 0 found/done, 1 not found or a fatal error.
import { readFile } from 'node:fs/promises';
import { DictRetryError, type Dict } from '../../global/dict/dict-api.js';
import { indexedPath, isIndexedType } from '../../global/dict/indexed.js';
import { createTable, deleteKeys, isBuildable, modifyTable } from '../../global/dict/mkmap.js';
import { decodeSource, foldKey, utf8Enabled } from '../../global/dict/utf8-mode.js';
import { nullModeFromFlags } from '../../global/dict/null-byte.js';
import { openDictUncached } from '../../global/dict/open.js';
import { parseKeyValueTable, splitKeyValue } from '../../global/dict/table-source.js';
import type { ParamReader } from '../../global/params/types.js';
import { decodeValue, encodeFileList } from './base64-values.js';
import { messageKeys } from './message-keys.js';
import { commandConfig, getopt, inputLines, readStdin, UsageError } from './options.js';

const OPTIONS = 'FNUbc:d:fhimnopq:rsuvwx';
const USAGE = '[-bfFhimnNoprsuUvw] [-c config_dir] [-d key] [-q key] [map_type:]file...';

/** Conflicting modes: Postfix reports these as fatal, without the usage line. */
export class ModeError extends Error {
  override name = 'ModeError';
}

/** A query that failed temporarily, reported as postmap does. */
export async function queryTable(d: Dict, key: string): Promise<string | undefined> {
  try {
    return await d.lookup(key);
  } catch (e) {
    if (e instanceof DictRetryError) {
      const text = e.message.startsWith(`${d.spec}: `) ? e.message.slice(d.spec.length + 2) : e.message;
      throw new Error(`table ${d.spec}: query error: ${text}`);
    }
    throw e;
  }
}

export interface CommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly stdin: () => Promise<string>;
}

export const processIo: CommandIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  stdin: () => readStdin(),
};

/** `file` alone means `$default_database_type:file`. */
export function mapSpec(operand: string, config: ParamReader, defaultParam = 'default_database_type'): string {
  return /^[a-z0-9_]+:/i.test(operand) ? operand : `${config.get(defaultParam)}:${operand}`;
}

/** A spec already qualified by mapSpec(), split at its first colon. */
export function splitSpec(spec: string): { type: string; name: string } {
  const colon = spec.indexOf(':');
  return { type: spec.slice(0, colon), name: spec.slice(colon + 1) };
}

/**
 * The source text of a table to build, with Postfix's wording when it cannot
 * be opened; in UTF-8 mode lines that are not UTF-8 are skipped with a warning.
 */
export async function readTableSource(
  name: string,
  utf8 = true,
  warn: (t: string) => void = () => undefined,
): Promise<string> {
  try {
    return decodeSource(await readFile(name), name, utf8, warn);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`open ${name}: ${code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}`);
  }
}

export async function main(argv: string[], progName = 'postmap', io: CommandIo = processIo): Promise<number> {
  const warn = (t: string): void => io.stderr(`${progName}: warning: ${t}\n`);
  try {
    return await run(argv, progName, io, warn);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) io.stderr(`${progName}: ${e.message}\n`);
      io.stderr(`${progName}: fatal: usage: ${progName} ${USAGE}\n`);
      return 1;
    }
    if (e instanceof ModeError) {
      io.stderr(`${progName}: fatal: ${e.message}\n`);
      return 1;
    }
    io.stderr(`${progName}: fatal: ${(e as Error).message}\n`);
    return 1;
  }
}

async function run(argv: string[], progName: string, io: CommandIo, warn: (t: string) => void): Promise<number> {
  const args = getopt(argv, OPTIONS);
  const config = commandConfig(args.values.get('c'));
  const fold = !args.flags.has('f');
  const nulls = nullModeFromFlags(args.flags, argv);
  const utf8 = utf8Enabled(args.flags.has('u'), config);
  const specs = args.operands.map((o) => mapSpec(o, config));
  const query = args.values.get('q');
  const del = args.values.get('d');
  const modes = [query !== undefined, del !== undefined, args.flags.has('s'), args.flags.has('i')].filter(Boolean);
  if (modes.length > 1) {
    // Postfix words this differently depending on whether -s is involved.
    throw new ModeError(`specify only one of ${args.flags.has('s') ? '-s -q' : '-s or -q'} or -d`);
  }
  if (specs.length === 0) throw new UsageError('');
  if ((args.flags.has('b') || args.flags.has('h')) && query !== '-') {
    throw new UsageError('the -b and -h options require -q -');
  }

  // -F: values are base64 on disk; queries and listings show them decoded.
  const shown = (d: Dict, key: string, v: string): string => {
    if (!args.flags.has('F')) return v;
    const decoded = decodeValue(v);
    if (decoded !== undefined) return decoded;
    const { type, name } = splitSpec(d.spec);
    const table = isIndexedType(type) || type === 'cdb' ? `${type}:${indexedPath(type, name)}` : d.spec;
    warn(`table ${table}: key ${key}: malformed BASE64 value: ${v}`);
    throw new Error(`table ${table}: query error`);
  };

  const openAll = async (): Promise<Dict[]> => {
    const dicts: Dict[] = [];
    for (const s of specs) dicts.push(await openDictUncached(s, { config, warn, fold, nulls, utf8 }));
    return dicts;
  };
  const closeAll = async (dicts: Dict[]): Promise<void> => {
    for (const d of dicts) await d.close();
  };

  if (query !== undefined) {
    const dicts = await openAll();
    try {
      if (query !== '-') {
        for (const d of dicts) {
          const v = await queryTable(d, query);
          if (v === '') {
            warn(`table ${d.spec}: key ${query}: empty string result is not allowed`);
            warn(`table ${d.spec} should return NO RESULT in case of NOT FOUND`);
          }
          if (v !== undefined) {
            io.stdout(`${shown(d, query, v)}\n`);
            return 0;
          }
        }
        return 1;
      }
      const text = await io.stdin();
      const keys =
        args.flags.has('b') || args.flags.has('h')
          ? messageKeys(text, args.flags.has('h'), args.flags.has('b'))
          : inputLines(text);
      let found = false;
      for (const key of keys) {
        for (const d of dicts) {
          const v = await queryTable(d, key);
          if (v !== undefined) {
            io.stdout(`${key}\t${shown(d, key, v)}\n`);
            found = true;
            break;
          }
        }
      }
      return found ? 0 : 1;
    } finally {
      await closeAll(dicts);
    }
  }

  if (args.flags.has('s')) {
    const dicts = await openAll();
    try {
      for (const d of dicts) {
        if (!d.sequence) throw new Error(`table ${d.spec}: sequence operation is not supported`);
        for await (const [k, v] of d.sequence()) io.stdout(`${k}\t${shown(d, k, v)}\n`);
      }
      return 0;
    } finally {
      await closeAll(dicts);
    }
  }

  if (del !== undefined) {
    const keys = del === '-' ? inputLines(await io.stdin()) : [del];
    return (await deleteKeys(specs, keys, fold, nulls, utf8)) ? 0 : 1;
  }

  if (args.flags.has('i')) {
    const puts: [string, string][] = [];
    inputLines(await io.stdin()).forEach((line, n) => {
      if (line.trim() === '' || line.trimStart().startsWith('#')) return;
      const kv = splitKeyValue(line.trim());
      if (!kv) warn(`-, line ${n + 1}: expected format: key whitespace value`);
      else puts.push([fold ? foldKey(kv.key, utf8) : kv.key, kv.value]);
    });
    for (const s of specs) {
      const { type, name } = splitSpec(s);
      await modifyTable(type, name, puts, [], nulls);
    }
    return 0;
  }

  const asRoot = process.getuid?.() === 0 && !args.flags.has('o');
  for (const s of specs) {
    const { type, name } = splitSpec(s);
    if (!isBuildable(type))
      throw new Error(`unsupported dictionary type: ${type} does not support bulk-mode creation.`);
    const text = await readTableSource(name, utf8, warn);
    const quiet = args.flags.has('w');
    const entries = parseKeyValueTable(text, name, {
      fold,
      utf8,
      warn,
      duplicates: {
        replace: args.flags.has('r'),
        warn: (key) => {
          if (!quiet)
            warn(
              `${indexedPath(type === 'cdb' ? 'cdb' : isIndexedType(type) ? type : 'hash', name)}: duplicate entry: "${key}"`,
            );
        },
      },
    });
    const pairs: [string, string][] = [];
    for (const e of entries) {
      const value = args.flags.has('F') ? await encodeFileList(e.value, `${name}, line ${e.line}`, warn) : e.value;
      if (value !== undefined) pairs.push([e.key, value]);
    }
    await createTable(type, name, pairs, {
      replace: args.flags.has('r'),
      quietDuplicates: args.flags.has('w'),
      ownerFrom: asRoot ? name : undefined,
      nulls,
      warn,
    });
  }
  return 0;
}
