// master(8) reads master.cf(5) through this one function. The full parser
// (with postconf's diagnostics) belongs to global/mastercf/parse.ts, written
// in the config area; until it lands here this file carries a minimal reader
// of the same format so that master can run. Swap the body for
// `loadMasterCf(dir)` when it is available; callers do not change.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MasterEntry, ServiceType } from '../../global/mastercf/types.js';

export interface MasterCfProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface MasterCf {
  readonly file: string;
  readonly entries: MasterEntry[];
  readonly problems: MasterCfProblem[];
}

const TYPES: ReadonlySet<string> = new Set(['inet', 'unix', 'unix-dgram', 'fifo', 'pass']);
/** Longest logical entry accepted; master.cf is trusted, but a runaway file must not exhaust memory. */
const MAX_ENTRY = 64 * 1024;

export function readMasterCf(dir: string): MasterCf {
  const file = join(dir, 'master.cf');
  return parseMasterCfText(readFileSync(file, 'utf8'), file);
}

export function parseMasterCfText(text: string, file = 'master.cf'): MasterCf {
  const entries: MasterEntry[] = [];
  const problems: MasterCfProblem[] = [];
  const logical: { line: number; text: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (/^\s*#/.test(line) || !line.trim()) return;
    const last = logical[logical.length - 1];
    if (/^\s/.test(line)) {
      if (last && last.text.length < MAX_ENTRY) last.text += ' ' + line.trim();
      else if (!last)
        problems.push({ file, line: i + 1, message: 'entry starts with whitespace (continuation without entry)' });
      return;
    }
    logical.push({ line: i + 1, text: line.trim() });
  });
  const seen = new Set<string>();
  for (const { line, text: l } of logical) {
    const problem = (message: string): void => void problems.push({ file, line, message });
    const fields = l.split(/\s+/);
    if (fields.length < 8) {
      problem(`bad field count: expected at least 8 fields, found ${fields.length}`);
      continue;
    }
    const [name = '', type = '', priv = '', unpriv = '', chroot = '', wakeup = '', maxproc = ''] = fields;
    if (!TYPES.has(type)) {
      problem(`unknown service type: ${type}`);
      continue;
    }
    const flag = (v: string, def: boolean, what: string): boolean | undefined => {
      if (v === '-') return def;
      if (v === 'y') return true;
      if (v === 'n') return false;
      problem(`bad ${what} field: ${v} (expected y, n or -)`);
      return undefined;
    };
    const p = flag(priv, type !== 'inet', 'private');
    const u = flag(unpriv, true, 'unprivileged');
    const c = flag(chroot, false, 'chroot');
    const wm = /^(-|\d+)(\??)$/.exec(wakeup);
    const mm = /^(-|\d+)$/.exec(maxproc);
    if (!wm) problem(`bad wakeup field: ${wakeup}`);
    if (!mm) problem(`bad max process count field: ${maxproc}`);
    if (p === undefined || u === undefined || c === undefined || !wm || !mm) continue;
    const key = `${name}/${type}`;
    if (seen.has(key)) {
      problem(`duplicate service name/type: ${name}/${type}`);
      continue;
    }
    seen.add(key);
    const words = splitCommand(fields.slice(7).join(' '));
    if (typeof words === 'string') {
      problem(words);
      continue;
    }
    const overrides = new Map<string, string>();
    const args: string[] = [];
    let bad = false;
    for (let i = 1; i < words.length; i++) {
      const w = words[i] ?? '';
      if (w === '-o') {
        const kv = words[++i];
        const m = kv === undefined ? null : /^\s*([A-Za-z0-9_]+)\s*=\s*([\s\S]*?)\s*$/.exec(kv);
        if (!m) {
          problem(`bad -o option: expected "-o name=value", found "${kv ?? ''}"`);
          bad = true;
          break;
        }
        overrides.set(m[1] ?? '', m[2] ?? '');
      } else args.push(w);
    }
    if (bad) continue;
    entries.push({
      name,
      type: type as ServiceType,
      columns: [priv, unpriv, chroot, wakeup, maxproc],
      private: p,
      unpriv: u,
      chroot: c,
      wakeup: wm[1] === '-' ? 0 : Number(wm[1]),
      wakeupConditional: wm[2] === '?',
      maxproc: mm[1] === '-' ? 100 : Number(mm[1]),
      command: words[0] ?? '',
      args,
      overrides,
      line,
    });
  }
  return { file, entries, problems };
}

/** Split the command column; `{ text with spaces }` is one word (master.cf(5), Postfix 3.0+). */
function splitCommand(text: string): string[] | string {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i] ?? '')) {
      i++;
      continue;
    }
    if (text[i] === '{') {
      const end = text.indexOf('}', i);
      if (end < 0) return 'missing "}" in command arguments';
      words.push(text.slice(i + 1, end).trim());
      i = end + 1;
      continue;
    }
    let j = i;
    while (j < text.length && !/\s/.test(text[j] ?? '')) j++;
    words.push(text.slice(i, j));
    i = j;
  }
  // `-o name=value` may be written `-o name = value` only inside braces, which is handled above.
  return words;
}
