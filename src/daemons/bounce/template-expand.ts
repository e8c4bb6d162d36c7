// `$name` expansion of bounce template text (bounce(5)): main.cf parameters,
// `$$` for a dollar, and the time forms `$delay_warning_time_<unit>` and
// `$maximal_queue_lifetime_<unit>` (seconds, minutes, hours, days, weeks)
// that turn those durations into a number a reader understands. With
// smtputf8_enable, `$myhostname` and `$mydomain` show UTF-8 instead of ACE
// labels. A reference to an unknown name is an error, as in Postfix: a
// notice that says "for more than  hour(s)" helps no one.
import { domainToUnicode } from 'node:url';
import { expand, type Lookup } from '../../global/params/expand.js';
import { paramSpec } from '../../global/params/registry.js';
import type { ParamReader } from '../../global/params/types.js';
import type { BounceTemplate } from './notice-text.js';

export class TemplateExpandError extends Error {
  override name = 'TemplateExpandError';
}

const UNITS: Readonly<Record<string, number>> = { seconds: 1, minutes: 60, hours: 3600, days: 86400, weeks: 604800 };
const TIME_PARAMS = /^(delay_warning_time|maximal_queue_lifetime)_([A-Za-z0-9]+)$/;
/** A converted number this large means the unit is too small to read well. */
const EXCESSIVE = 1000;

export interface ExpandedText {
  readonly lines: string[];
  /** Conversions whose unit is a poor fit (zero or very large results). */
  readonly warnings: string[];
}

/** Names referenced without a `?`/`:` default (those must exist). */
function plainReferences(text: string): string[] {
  const out: string[] = [];
  const re = /\$(?:\$|([A-Za-z0-9_]+)|\{([A-Za-z0-9_]+)\}|\(([A-Za-z0-9_]+)\))/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const name = m[1] ?? m[2] ?? m[3];
    if (name !== undefined) out.push(name);
  }
  return out;
}

/**
 * Expand a template's text against `config`. `file` names the template's
 * origin in messages. Throws TemplateExpandError for an unknown name or
 * time unit, or bad `$` syntax.
 */
export function expandTemplateText(t: BounceTemplate, config: ParamReader, file: string): ExpandedText {
  const warnings: string[] = [];
  const what = `${t.name} template`;
  const utf8 = safeBool(config, 'smtputf8_enable');
  const known = (name: string): boolean => paramSpec(name) !== undefined || config.isSet(name);

  const timeValue = (param: string, unit: string, name: string): string => {
    const div = UNITS[unit];
    if (div === undefined)
      throw new TemplateExpandError(`${file}: unrecognized suffix "${unit}" in parameter "${name}"`);
    const seconds = config.time(param);
    const n = Math.floor(seconds / div);
    if (seconds > 0 && n === 0) {
      warnings.push(
        `${file}: zero result in ${what} conversion of parameter "${name}"; please use a smaller unit than "${unit}" (see bounce(5))`,
      );
    } else if (n >= EXCESSIVE) {
      warnings.push(
        `${file}: excessive result "${n}" in ${what} conversion of parameter "${name}"; please use a larger unit than "${unit}" (see bounce(5))`,
      );
    }
    return String(n);
  };

  const lookup: Lookup = (name) => {
    const tm = TIME_PARAMS.exec(name);
    if (tm) return timeValue(tm[1] ?? '', tm[2] ?? '', name);
    if (!known(name)) return undefined;
    let v = config.get(name);
    if (utf8 && (name === 'myhostname' || name === 'mydomain')) v = domainToUnicode(v) || v;
    // The value is final: a `$` in it is text, not another reference.
    return v.replace(/\$/g, '$$$$');
  };

  const text = t.body.join('\n');
  for (const name of plainReferences(text)) {
    if (!TIME_PARAMS.test(name) && !known(name)) {
      throw new TemplateExpandError(`${file}: undefined $${name} in ${what}`);
    }
  }
  let out: string;
  try {
    out = expand(text, lookup);
  } catch (e) {
    if (e instanceof TemplateExpandError) throw e;
    throw new TemplateExpandError(`${file}: ${what}: ${(e as Error).message}`);
  }
  return { lines: out.split('\n'), warnings };
}

function safeBool(config: ParamReader, name: string): boolean {
  try {
    return config.bool(name);
  } catch {
    return false;
  }
}
