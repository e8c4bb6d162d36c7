// postconf's main.cf parameter output: all parameters, -n (set in main.cf),
// -d (defaults), named parameters, -h (values only), -H (names only),
// -x (expanded) and -f (folded long lines).
import { expand, ExpansionError, RecursionError } from '../../global/params/expand.js';
import { isRawParam } from '../../global/params/registry.js';
import { defaultText } from '../../global/params/config.js';
import type { KnownParams } from '../../global/params/known-params.js';

export interface PrintRequest {
  readonly settings: ReadonlyMap<string, string>;
  readonly known: KnownParams;
  readonly defaults: boolean;
  readonly nonDefault: boolean;
  readonly expand: boolean;
  readonly noName: boolean;
  readonly noValue: boolean;
  readonly fold: boolean;
  readonly names: readonly string[];
}

/** Postfix's fatal "macro processing error", with the warning that explains it. */
export class MacroError extends Error {
  override name = 'MacroError';
  constructor(readonly warning: string) {
    super('macro processing error');
  }
}

const FOLD_WIDTH = 80;

/** Fold a line at whitespace below 80 columns; continuation lines start with a tab-like indent. */
export function foldLine(line: string): string {
  const words = line.split(' ');
  const out: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur === '') cur = w;
    else if (cur.length + 1 + w.length > FOLD_WIDTH && cur.trim() !== '') {
      out.push(cur);
      cur = '    ' + w;
    } else cur += ' ' + w;
  }
  out.push(cur);
  return out.join('\n');
}

/** Lines to print and warnings (`name: unknown parameter`). */
export function printParams(req: PrintRequest): { lines: string[]; warnings: string[] } {
  const { settings, known } = req;
  const warnings: string[] = [];
  const isKnown = (n: string): boolean => known.specs.has(n) || (!req.defaults && known.userDefined.has(n));
  const raw = (n: string): string | undefined => {
    if (!req.defaults) {
      const s = settings.get(n);
      if (s !== undefined) return s;
    }
    return known.specs.get(n)?.origin === 'host' || !known.specs.has(n)
      ? defaultText(n, (m) => expanded(m))
      : known.specs.get(n)?.def;
  };
  const valueOf = (n: string): string => (req.expand && !isRawParam(n) ? expanded(n) : (raw(n) ?? ''));
  const expanded = (n: string): string => {
    const r = raw(n) ?? '';
    try {
      return expand(r, raw, [n]);
    } catch (e) {
      if (e instanceof RecursionError) throw new MacroError(`unreasonable macro call nesting: "${e.param}"`);
      if (e instanceof ExpansionError) throw new MacroError(e.message);
      throw e;
    }
  };

  let names: string[];
  if (req.names.length) {
    names = [];
    for (const n of req.names) {
      if (isKnown(n)) names.push(n);
      else warnings.push(`${n}: unknown parameter`);
    }
  } else if (req.nonDefault) {
    names = [...settings.keys()].filter(isKnown).sort();
  } else {
    names = [...new Set([...known.specs.keys(), ...(req.defaults ? [] : known.userDefined)])].sort();
  }
  const lines: string[] = [];
  for (const n of names) {
    let line: string;
    if (req.noValue) line = n;
    else {
      // postconf prints values with whitespace runs collapsed.
      const v = valueOf(n).split(/\s+/).filter(Boolean).join(' ');
      line = req.noName ? v : v === '' ? `${n} =` : `${n} = ${v}`;
    }
    lines.push(req.fold ? foldLine(line) : line);
  }
  return { lines, warnings };
}
