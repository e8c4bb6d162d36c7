// Parser for master.cf (master(5)): one service per logical line, eight
// columns, `{ ... }` grouping for arguments with whitespace, `-o name=value`
// overrides. master/ starts services from the entries; postconf -M/-F/-P prints
// and edits them. Messages follow postconf's wording so tests can compare.
import { errnoText, readConfigFile } from '../params/read-config-file.js';
import { join } from 'node:path';
import type { MasterEntry, ServiceType } from './types.js';

export interface MasterCfProblem {
  readonly line: number;
  readonly message: string;
  /** A fatal problem drops the entry (master and postconf refuse to go on); otherwise a warning. */
  readonly fatal: boolean;
}

export interface ParsedMasterCf {
  entries: MasterEntry[];
  problems: MasterCfProblem[];
}

export interface MasterCfOptions {
  /** `$default_process_limit`, used for a `-` maxproc column (Postfix default 100). */
  readonly defaultProcessLimit?: number;
}

/** One master.cf logical line before interpretation: words with `{}` removed. */
export interface LogicalLine {
  readonly line: number;
  readonly text: string;
}

const TYPES: ReadonlySet<string> = new Set(['inet', 'unix', 'unix-dgram', 'fifo', 'pass']);
const FLAG = /^[yn-]$/;
const WAKEUP = /^(?:-|\d*\?|\d+)$/;
const MAXPROC = /^(?:-|\d+)$/;
/** Bound on one logical line, so a runaway file cannot exhaust memory. */
const MAX_LOGICAL_LINE = 1 << 20;

/** Join physical lines into logical ones: leading whitespace continues, `#` lines are skipped. */
export function logicalLines(text: string, problems: MasterCfProblem[] = []): LogicalLine[] {
  const out: { line: number; text: string }[] = [];
  let cur: { line: number; text: string } | undefined;
  text.split('\n').forEach((raw, i) => {
    const l = raw.replace(/\r$/, '');
    if (/^\s*(#|$)/.test(l)) return;
    if (/^\s/.test(l)) {
      if (cur && cur.text.length < MAX_LOGICAL_LINE) cur.text += ' ' + l.trim();
      else if (!cur)
        problems.push({
          line: i + 1,
          message: `logical line must not start with whitespace: "${l}"`,
          fatal: false,
        });
      return;
    }
    cur = { line: i + 1, text: l.trimEnd() };
    out.push(cur);
  });
  return out;
}

/**
 * Split a logical line into words. A word that starts with `{` runs to the
 * matching `}` and may hold whitespace; whitespace just inside the braces is
 * dropped. Returns the words without braces.
 */
export function splitWords(text: string, warn?: (msg: string) => void): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
    if (i >= text.length) break;
    if (text[i] === '{') {
      let depth = 0;
      let j = i;
      for (; j < text.length; j++) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}' && --depth === 0) break;
      }
      if (j >= text.length) {
        const rest = text.slice(i);
        warn?.(`missing '}' in "${rest}"`);
        words.push(rest.slice(1).trim());
        break;
      }
      words.push(text.slice(i + 1, j).trim());
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < text.length && !/\s/.test(text[j] ?? '')) j++;
    words.push(text.slice(i, j));
    i = j;
  }
  return words;
}

/** An `-o` value as Postfix normalises it: `name=value` with whitespace around `=` removed. */
export function normaliseOverride(arg: string): { name: string; value: string } | undefined {
  const eq = arg.indexOf('=');
  if (eq <= 0) return undefined;
  const name = arg.slice(0, eq).trim();
  if (name === '') return undefined;
  return { name, value: arg.slice(eq + 1).trim() };
}

/** Re-brace a word for printing when it holds whitespace or is empty-sensitive. */
export function quoteWord(word: string): string {
  return /\s/.test(word) || word.startsWith('{') ? `{${word}}` : word;
}

export function parseMasterCf(text: string, file = 'master.cf', opts: MasterCfOptions = {}): ParsedMasterCf {
  void file;
  const problems: MasterCfProblem[] = [];
  const entries: MasterEntry[] = [];
  const defaultLimit = opts.defaultProcessLimit ?? 100;
  for (const ll of logicalLines(text, problems)) {
    const entry = parseEntry(ll, defaultLimit, problems);
    if (entry) entries.push(entry);
  }
  return { entries, problems };
}

function parseEntry(ll: LogicalLine, defaultLimit: number, problems: MasterCfProblem[]): MasterEntry | undefined {
  const fatal = (message: string): undefined => {
    problems.push({ line: ll.line, message, fatal: true });
    return undefined;
  };
  const words = splitWords(ll.text, (m) => problems.push({ line: ll.line, message: m, fatal: false }));
  if (words.length < 8) return fatal('bad field count');
  const [name = '', type = '', priv = '', unpriv = '', chroot = '', wakeup = '', maxproc = '', command = ''] = words;
  const invalid = (field: string, value: string): undefined =>
    fatal(`invalid ${field} field "${value}" in "${ll.text}"`);
  if (!TYPES.has(type)) return invalid('type', type);
  if (!FLAG.test(priv)) return invalid('private', priv);
  if (!FLAG.test(unpriv)) return invalid('unprivileged', unpriv);
  if (!FLAG.test(chroot)) return invalid('chroot', chroot);
  if (!WAKEUP.test(wakeup)) return invalid('wakeup', wakeup);
  if (!MAXPROC.test(maxproc)) return invalid('process_limit', maxproc);

  const { argv, args, overrides } = splitCommandArgs(words.slice(8));

  return {
    name,
    type: type as ServiceType,
    columns: [priv, unpriv, chroot, wakeup, maxproc],
    private: priv !== 'n',
    unpriv: unpriv !== 'n',
    chroot: chroot === 'y',
    wakeup: wakeup === '-' ? 0 : Number.parseInt(wakeup, 10) || 0,
    wakeupConditional: wakeup.endsWith('?'),
    maxproc: maxproc === '-' ? defaultLimit : Number.parseInt(maxproc, 10),
    command,
    args,
    argv,
    overrides,
    line: ll.line,
  };
}

/**
 * Separate `-o` overrides from a command's arguments the way the daemon's
 * getopt sees them: only in the leading option words (up to the first word
 * that is not an option, or `--`); `-vo name=value` is `-v` plus `-o`.
 */
export function splitCommandArgs(words: readonly string[]): {
  argv: string[];
  args: string[];
  overrides: Map<string, string>;
} {
  const argv: string[] = [];
  const args: string[] = [];
  const overrides = new Map<string, string>();
  let k = 0;
  for (; k < words.length; k++) {
    const w = words[k] ?? '';
    if (!w.startsWith('-') || w === '-' || w === '--') break;
    const o = w.indexOf('o', 1);
    if (o < 0) {
      argv.push(w);
      args.push(w);
      continue;
    }
    if (o > 1) {
      argv.push(w.slice(0, o));
      args.push(w.slice(0, o));
    }
    argv.push('-o');
    let optArg = w.slice(o + 1);
    if (optArg === '') {
      if (k + 1 >= words.length) {
        k = words.length;
        break;
      }
      optArg = words[++k] ?? '';
    }
    const kv = normaliseOverride(optArg);
    if (kv) {
      overrides.set(kv.name, kv.value);
      argv.push(`${kv.name}=${kv.value}`);
    } else argv.push(optArg);
  }
  for (const w of words.slice(k)) {
    argv.push(w);
    args.push(w);
  }
  return { argv, args, overrides };
}

/**
 * Read `configDir/master.cf`. Fatal syntax errors throw an Error naming the
 * file and line; warnings are returned for the caller to log.
 */
export function loadMasterCf(configDir: string, opts: MasterCfOptions = {}): ParsedMasterCf {
  const file = join(configDir, 'master.cf');
  let text: string;
  try {
    text = readConfigFile(file);
  } catch (e) {
    throw new Error(`open ${file}: ${errnoText(e)}`);
  }
  const parsed = parseMasterCf(text, file, opts);
  const bad = parsed.problems.find((p) => p.fatal);
  if (bad) throw new Error(`${file}: line ${bad.line}: ${bad.message}`);
  return parsed;
}

/** Split an inet service name into host and port: `smtp`, `host:port`, `[addr]:port`. */
export function splitInetName(name: string): { host: string | undefined; port: string } {
  if (name.startsWith('[')) {
    const close = name.indexOf(']');
    if (close > 0 && name[close + 1] === ':') return { host: name.slice(1, close), port: name.slice(close + 2) };
  }
  const colon = name.lastIndexOf(':');
  if (colon < 0) return { host: undefined, port: name };
  return { host: name.slice(0, colon), port: name.slice(colon + 1) };
}
