// postconf(1): print and edit Postfix configuration — main.cf parameters
// (all, -n, -d, names, -h/-H/-x/-f, -e/-X/-#) and master.cf services
// (-M, -F, -P and their -e/-X/-# edits), the -m/-l/-a/-A capability lists,
// and the bounce templates (-t raw, -b expanded).
import { errnoText, readConfigFile } from '../../global/params/read-config-file.js';
import { join } from 'node:path';
import { parseMasterCf } from '../../global/mastercf/parse.js';
import type { MasterEntry } from '../../global/mastercf/types.js';
import { Config, ConfigError, configDirectory, defaultText } from '../../global/params/config.js';
import { TemplateExpandError } from '../../daemons/bounce/template-expand.js';
import { TemplateFileError } from '../../daemons/bounce/template-file.js';
import { templateLines } from './bounce-templates.js';
import { expand, ExpansionError, RecursionError } from '../../global/params/expand.js';
import { parseMainCf } from '../../global/params/main-cf.js';
import { EditError, editMainCf, parseAssignment, type MainCfEdit } from './edit-main-cf.js';
import { editMasterCf, parseMasterEdit, type MasterEdit } from './edit-master-cf.js';
import { knownParams } from '../../global/params/known-params.js';
import { MacroError, printParams } from './params-print.js';
import { parseOptions, UsageError, USAGE } from './options.js';
import { printMaster } from './master-print.js';
import { DICT_TYPE_NAMES } from '../../global/dict/open.js';

/** Lookup table types Postern implements (postconf -m): the dict layer's own list. */
export const MAP_TYPES: readonly string[] = DICT_TYPE_NAMES;
const LOCK_TYPES = ['flock', 'fcntl', 'dotlock'];
const SERVER_SASL_TYPES = ['dovecot', 'postern'];
const CLIENT_SASL_TYPES = ['postern'];

class Fatal extends Error {
  override name = 'Fatal';
}

/** Exit with status 1 after warnings only. */
class Exit extends Error {
  override name = 'Exit';
}

export async function main(argv: string[], progName: string): Promise<number> {
  const out: string[] = [];
  const err: string[] = [];
  const warn = (m: string): void => {
    err.push(`${progName}: warning: ${m}`);
  };
  let status = 0;
  try {
    run(argv, out, warn);
  } catch (e) {
    if (e instanceof UsageError) {
      err.push(`${progName}: ${e.message}`, `${progName}: fatal: usage: ${progName} ${USAGE}`);
    } else if (e instanceof MacroError) {
      err.push(`${progName}: warning: ${e.warning}`);
      err.push(`${progName}: fatal: ${e.message}`);
    } else if (e instanceof Exit) {
      // The warning already says why.
    } else if (e instanceof Fatal || e instanceof EditError) {
      err.push(`${progName}: fatal: ${e.message}`);
    } else throw e;
    status = 1;
  }
  if (out.length) process.stdout.write(out.join('\n') + '\n');
  if (err.length) process.stderr.write(err.join('\n') + '\n');
  return Promise.resolve(status);
}

function readMainCf(file: string, warn: (m: string) => void): Map<string, string> {
  let text: string;
  try {
    text = readConfigFile(file);
  } catch (e) {
    throw new Fatal(`open ${file}: ${errnoText(e)}`);
  }
  const parsed = parseMainCf(text);
  const p = parsed.problems.find((x) => x.fatal);
  if (p) throw new Fatal(`${file}, line ${p.line}: ${p.message}`);
  for (const w of parsed.problems) warn(`${file}: ${w.message}`);
  const settings = new Map<string, string>();
  for (const e of parsed.entries) settings.set(e.name, e.value);
  return settings;
}

function readMasterCf(file: string, warn: (m: string) => void): MasterEntry[] {
  let text: string;
  try {
    text = readConfigFile(file);
  } catch (e) {
    warn(`open ${file}: ${errnoText(e)}`);
    return [];
  }
  const parsed = parseMasterCf(text, file);
  for (const p of parsed.problems) {
    if (p.fatal)
      throw new Fatal(p.message === 'bad field count' ? `file ${file}: line ${p.line}: ${p.message}` : p.message);
    warn(p.message.startsWith('missing') ? `master.cf: ${p.message}` : `${file}: ${p.message}`);
  }
  return parsed.entries;
}

/** master.cf -o values with `$name` expanded against main.cf (postconf -Mx/-Fx/-Px). */
function expandOverrides(e: MasterEntry, settings: ReadonlyMap<string, string>): MasterEntry {
  const raw = (n: string): string | undefined =>
    n === 'service_name' ? e.name : (settings.get(n) ?? defaultText(n, (m) => raw(m) ?? ''));
  const expandValue = (v: string): string => {
    try {
      return expand(v, raw);
    } catch (err) {
      if (err instanceof RecursionError) throw new MacroError(`unreasonable macro call nesting: "${err.param}"`);
      if (err instanceof ExpansionError) throw new MacroError(err.message);
      throw err;
    }
  };
  const overrides = new Map([...e.overrides].map(([k, v]) => [k, expandValue(v)]));
  const argv = (e.argv ?? []).map((w, i, all) => {
    if (all[i - 1] !== '-o') return w;
    const eq = w.indexOf('=');
    if (eq <= 0) return w;
    const name = w.slice(0, eq);
    return overrides.has(name) ? `${name}=${overrides.get(name) ?? ''}` : w;
  });
  return { ...e, overrides, argv };
}

function run(argv: string[], out: string[], warn: (m: string) => void): void {
  const opts = parseOptions(argv);
  const f = opts.flags;
  const explicitDir = opts.configDir ?? process.env['MAIL_CONFIG'];
  const dir = configDirectory(explicitDir);
  const mainFile = join(dir, 'main.cf');
  const masterFile = join(dir, 'master.cf');

  if (f.has('T')) {
    // Postern's TLS is Node's OpenSSL; report its version and key types.
    const mode = opts.tlsMode ?? '';
    if (mode === 'compile-version' || mode === 'run-version') out.push(`OpenSSL ${process.versions.openssl ?? ''}`);
    else if (mode === 'public-key-algorithms') out.push('ecdsa', 'ed25519', 'rsa');
    else {
      warn(`unknown 'postconf -T' mode: ${mode}`);
      throw new Exit();
    }
    return;
  }
  const lists = ['a', 'A', 'l', 'm'].filter((x) => f.has(x));
  if (lists.length > 1) throw new Fatal(`specify one of ${lists.map((x) => '-' + x).join(' ')}`);
  if (lists.length === 1) {
    const which = lists[0];
    out.push(
      ...(which === 'a'
        ? SERVER_SASL_TYPES
        : which === 'A'
          ? CLIENT_SASL_TYPES
          : which === 'l'
            ? LOCK_TYPES
            : MAP_TYPES),
    );
    return;
  }

  const masterMode = ['M', 'F', 'P'].filter((x) => f.has(x));
  if (masterMode.length > 1) throw new Fatal('specify one of -F, -M or -P');
  const editOp = (['e', 'X', '#'] as const).filter((x) => f.has(x));
  if (editOp.length > 1) throw new Fatal('specify one of -e, -X or -#');
  const impliedEdit = !masterMode.length && !editOp.length && opts.args.some((a) => a.includes('='));

  if (masterMode.length && editOp.length) {
    const mode = masterMode[0] as 'M' | 'F' | 'P';
    const op = editOp[0] ?? 'e';
    const edits: MasterEdit[] = opts.args.map((a) => parseMasterEdit(mode, op, a));
    let warnings: string[];
    try {
      warnings = editMasterCf(masterFile, edits);
    } catch (e) {
      if (e instanceof EditError) throw e;
      throw new Fatal(`open ${masterFile}: ${errnoText(e)}`);
    }
    warnings.forEach(warn);
    return;
  }
  if (editOp.length || impliedEdit) {
    const op = editOp[0] ?? 'e';
    const edits = new Map<string, MainCfEdit>();
    const text = new Map<string, string>();
    for (const a of opts.args) {
      let name = a;
      let edit: MainCfEdit;
      if (op === 'e') {
        const kv = parseAssignment(a);
        name = kv.name;
        edit = { kind: 'set', value: kv.value };
      } else edit = op === 'X' ? { kind: 'remove' } : { kind: 'comment' };
      const earlier = text.get(name);
      if (earlier !== undefined) warn(`ignoring earlier request: '${earlier}'`);
      edits.set(name, edit);
      text.set(name, edit.kind === 'set' ? `${name} = ${edit.value}` : name);
    }
    try {
      editMainCf(mainFile, edits);
    } catch (e) {
      const path = (e as NodeJS.ErrnoException).path ?? mainFile;
      throw new Fatal(`open ${path}: ${errnoText(e)}`);
    }
    return;
  }

  const settings = readMainCf(mainFile, warn);
  for (const o of opts.overrides) {
    const kv = parseAssignment(o);
    settings.set(kv.name, kv.value);
  }
  if (explicitDir) settings.set('config_directory', dir);
  if (f.has('b') || f.has('t')) {
    const cfg = new Config(settings, mainFile);
    try {
      out.push(...templateLines(cfg, opts.args[0], f.has('b'), warn));
    } catch (e) {
      if (e instanceof TemplateFileError || e instanceof TemplateExpandError || e instanceof ConfigError) {
        throw new Fatal(e.message);
      }
      throw e;
    }
    return;
  }
  const entries = readMasterCf(masterFile, warn);
  const known = knownParams(settings, entries, mainFile, masterFile);
  // Postfix reports unused and undefined names except when only defaults are asked for.
  const reportNames = (): void => {
    if (f.has('d')) return;
    known.undefinedWarnings.forEach(warn);
    if (!masterMode.length) known.mainUnused.forEach(warn);
    known.masterUnused.forEach(warn);
  };
  if (masterMode.length) {
    const shown = f.has('x') ? entries.map((e) => expandOverrides(e, settings)) : entries;
    const r = printMaster(masterMode[0] as 'M' | 'F' | 'P', shown, opts.args, f.has('f'));
    out.push(...r.lines);
    reportNames();
    r.warnings.forEach(warn);
    return;
  }
  const r = printParams({
    settings,
    known,
    defaults: f.has('d'),
    nonDefault: f.has('n'),
    expand: f.has('x'),
    noName: f.has('h'),
    noValue: f.has('H'),
    fold: f.has('f'),
    names: opts.args,
  });
  reportNames();
  r.warnings.forEach(warn);
  out.push(...r.lines);
}
