// postalias(1) (and newaliases): build alias databases from aliases(5) files,
// query them (`-q`, defaulting to $alias_maps), list (`-s`) and delete (`-d`).
// Like Postfix, a built table gets the sendmail-compatibility entry `@` → `@`;
// the NIS entries YP_LAST_MODIFIED/YP_MASTER_NAME are not written (Postern
// has no NIS). Exit status: 0 found/done, 1 not found or a fatal error.
import { parseAliases } from '../../global/dict/alias-source.js';
import type { Dict } from '../../global/dict/dict-api.js';
import { indexedPath, isIndexedType } from '../../global/dict/indexed.js';
import { createTable, deleteKeys, isBuildable, modifyTable } from '../../global/dict/mkmap.js';
import { utf8Enabled } from '../../global/dict/utf8-mode.js';
import { nullModeFromFlags } from '../../global/dict/null-byte.js';
import { openDictUncached } from '../../global/dict/open.js';
import {
  mapSpec,
  ModeError,
  processIo,
  queryTable,
  readTableSource,
  splitSpec,
  type CommandIo,
} from '../postmap/main.js';
import { commandConfig, getopt, inputLines, UsageError } from '../postmap/options.js';

const OPTIONS = 'Nc:d:finopq:rsuvw';

/**
 * newaliases (`sendmail -bi`): rebuild every table in $alias_database whose
 * type this build can create; others (e.g. nis:) are skipped as Postfix does.
 */
export async function newaliases(
  configDir: string | undefined,
  progName = 'newaliases',
  io: CommandIo = processIo,
): Promise<number> {
  const config = commandConfig(configDir);
  const buildable = config.list('alias_database').filter((s) => isBuildable(splitSpec(s).type));
  if (buildable.length === 0) return 0;
  return main([...(configDir ? ['-c', configDir] : []), ...buildable], progName, io);
}

export async function main(argv: string[], progName = 'postalias', io: CommandIo = processIo): Promise<number> {
  const warn = (t: string): void => io.stderr(`${progName}: warning: ${t}\n`);
  try {
    return await run(argv, io, warn);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) io.stderr(`${progName}: ${e.message}\n`);
      io.stderr(
        `${progName}: fatal: usage: ${progName} [-Nfinoprsuvw] [-c config_dir] [-d key] [-q key] [map_type:]file...\n`,
      );
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

async function run(argv: string[], io: CommandIo, warn: (t: string) => void): Promise<number> {
  const args = getopt(argv, OPTIONS);
  const config = commandConfig(args.values.get('c'));
  const fold = !args.flags.has('f');
  const nulls = nullModeFromFlags(args.flags, argv);
  const utf8 = utf8Enabled(args.flags.has('u'), config);
  const query = args.values.get('q');
  const del = args.values.get('d');
  const specs = args.operands.map((o) => mapSpec(o, config));
  if (specs.length === 0) throw new UsageError('');
  if ([query, del].filter((x) => x !== undefined).length + (args.flags.has('s') ? 1 : 0) > 1) {
    throw new ModeError('specify only one of -s or -q or -d');
  }

  if (query !== undefined || args.flags.has('s')) {
    const dicts: Dict[] = [];
    try {
      for (const s of specs) dicts.push(await openDictUncached(s, { config, warn, fold, nulls, utf8 }));
      if (args.flags.has('s')) {
        for (const d of dicts) {
          if (!d.sequence) throw new Error(`table ${d.spec}: sequence operation is not supported`);
          for await (const [k, v] of d.sequence()) io.stdout(`${k}:\t${v}\n`);
        }
        return 0;
      }
      const keys = query === '-' ? inputLines(await io.stdin()) : [query ?? ''];
      let found = false;
      for (const key of keys) {
        for (const d of dicts) {
          const v = await queryTable(d, key);
          if (v === undefined) continue;
          io.stdout(query === '-' ? `${key}:\t${v}\n` : `${v}\n`);
          found = true;
          break;
        }
      }
      return found ? 0 : 1;
    } finally {
      for (const d of dicts) await d.close();
    }
  }

  if (del !== undefined) {
    const keys = del === '-' ? inputLines(await io.stdin()) : [del];
    return (await deleteKeys(specs, keys, fold, nulls, utf8)) ? 0 : 1;
  }

  if (args.flags.has('i')) {
    // Incremental: aliases(5) lines from standard input added in place.
    const entries = parseAliases(await io.stdin(), '-', { fold, utf8, warn, duplicates: { replace: true } });
    for (const s of specs) {
      const { type, name } = splitSpec(s);
      await modifyTable(
        type,
        name,
        entries.map((e) => [e.key, e.value] as [string, string]),
        [],
        nulls,
      );
    }
    return 0;
  }

  const asRoot = process.getuid?.() === 0 && !args.flags.has('o');
  for (const s of specs) {
    const { type, name } = splitSpec(s);
    if (!isBuildable(type))
      throw new Error(`unsupported dictionary type: ${type} does not support bulk-mode creation.`);
    const text = await readTableSource(name, utf8, warn);
    const db = indexedPath(isIndexedType(type) ? type : 'cdb', name);
    const quiet = args.flags.has('w');
    const entries = parseAliases(text, name, {
      fold,
      utf8,
      warn,
      duplicates: {
        replace: args.flags.has('r'),
        warn: (key) => {
          if (!quiet) warn(`${db}: duplicate entry: "${key}"`);
        },
      },
    });
    const pairs: [string, string][] = entries.map((e) => [e.key, e.value]);
    // Sendmail's "alias database complete" marker, which Postfix also writes.
    if (!entries.some((e) => e.key === '@')) pairs.push(['@', '@']);
    await createTable(type, name, pairs, {
      warn,
      quietDuplicates: true,
      ownerFrom: asRoot ? name : undefined,
      nulls,
    });
  }
  return 0;
}
