// Milter configuration as MILTER_README describes it: `smtpd_milters` and
// `non_smtpd_milters` list endpoints (`inet:host:port`, `unix:/path`), each
// optionally in the `{ endpoint, name=value, ... }` form that overrides
// connect_timeout, command_timeout, content_timeout, default_action and
// protocol for that one milter; plus the shared milter_* parameters (macro
// lists, daemon name, `v`, macro defaults).
import type { ParamReader } from '../params/types.js';
import type { Dict } from '../dict/dict-api.js';
import { openDict } from '../dict/open.js';
import { splitList } from '../params/config.js';
import { MACRO_STAGES, type MacroStage } from './protocol.js';

export type DefaultAction = 'accept' | 'reject' | 'tempfail' | 'quarantine';

export interface MilterSpec {
  /** The endpoint as written (`inet:127.0.0.1:8891`): the milter's name in log lines. */
  readonly name: string;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly contentTimeoutMs: number;
  /** milter_default_action as written: an unknown word is warned about at first use, as Postfix does. */
  readonly defaultAction: string;
  /** milter_protocol as written (`6`, `2 no_header_reply`, ...). */
  readonly protocol: string;
}

export interface MilterMacroSettings {
  /** Macro names to send per stage, as written in the milter_*_macros parameters. */
  readonly lists: Readonly<Record<MacroStage, readonly string[]>>;
  /** milter_macro_defaults: values for macros that have none. */
  readonly defaults: ReadonlyMap<string, string>;
  readonly daemonName: string;
  readonly v: string;
}

export interface MilterSettings {
  readonly milters: readonly MilterSpec[];
  readonly macros: MilterMacroSettings;
  /** milter_header_checks: opens (once per process, cached) the tables; empty when none. */
  readonly headerChecks: () => Promise<readonly Dict[]>;
  /**
   * smtpd_milter_maps: the milters for one client address, overriding the
   * list above (`disable`: none); undefined when no table has the address.
   * Throws when a table cannot answer now. Absent when the parameter is empty.
   */
  readonly forClient?: (addr: string) => Promise<readonly MilterSpec[] | 'disable' | undefined>;
}

const MACRO_PARAMS: Record<MacroStage, string> = {
  connect: 'milter_connect_macros',
  helo: 'milter_helo_macros',
  mail: 'milter_mail_macros',
  rcpt: 'milter_rcpt_macros',
  data: 'milter_data_macros',
  eoh: 'milter_end_of_header_macros',
  eom: 'milter_end_of_data_macros',
  unknown: 'milter_unknown_command_macros',
};

const TIME_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** A per-milter time value (`10s`, `2m`, `30`) in milliseconds; undefined when malformed. */
function parseTimeMs(v: string): number | undefined {
  const m = /^(\d+)([smhdw]?)$/.exec(v.trim());
  if (!m) return undefined;
  return Number.parseInt(m[1] ?? '0', 10) * (TIME_UNITS[m[2] || 's'] ?? 1) * 1000;
}

export class MilterConfigError extends Error {
  override name = 'MilterConfigError';
}

const OVERRIDES = new Set(['connect_timeout', 'command_timeout', 'content_timeout', 'default_action', 'protocol']);

/**
 * One list item: a bare endpoint, or `{ endpoint, name = value, ... }`.
 * Unknown names and malformed values are configuration errors, as in Postfix.
 */
function parseItem(item: string, base: Omit<MilterSpec, 'name'>): MilterSpec {
  if (!item.startsWith('{')) return { ...base, name: item };
  if (!item.endsWith('}')) throw new MilterConfigError(`missing '}' in "${item}"`);
  const inner = item.slice(1, -1);
  const parts = inner
    .split(/[,\n]/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const name = parts.shift();
  if (name === undefined || name.includes('=')) throw new MilterConfigError(`missing milter name in "${item}"`);
  const spec: { -readonly [K in keyof MilterSpec]: MilterSpec[K] } = { ...base, name };
  for (const p of parts) {
    const eq = p.indexOf('=');
    const key = (eq < 0 ? p : p.slice(0, eq)).trim();
    const value = eq < 0 ? '' : p.slice(eq + 1).trim();
    if (eq < 0 || !OVERRIDES.has(key)) throw new MilterConfigError(`bad milter attribute "${p}" in "${item}"`);
    if (key.endsWith('_timeout')) {
      const ms = parseTimeMs(value);
      if (ms === undefined) throw new MilterConfigError(`bad ${key} value "${value}" in "${item}"`);
      if (key === 'connect_timeout') spec.connectTimeoutMs = ms;
      else if (key === 'command_timeout') spec.commandTimeoutMs = ms;
      else spec.contentTimeoutMs = ms;
    } else if (key === 'default_action') spec.defaultAction = value;
    else spec.protocol = value;
  }
  return spec;
}

/** The milters named by `param` (smtpd_milters or non_smtpd_milters). */
export function parseMilterList(value: string, base: Omit<MilterSpec, 'name'>): MilterSpec[] {
  return splitList(value).map((item) => parseItem(item, base));
}

function macroDefaults(value: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of splitList(value)) {
    const body = item.startsWith('{') && item.endsWith('}') ? item.slice(1, -1) : item;
    const eq = body.indexOf('=');
    if (eq <= 0) continue;
    out.set(macroKey(body.slice(0, eq).trim()), body.slice(eq + 1).trim());
  }
  return out;
}

/** Macro names are compared without their braces: `{daemon_name}` and `daemon_name` are one macro. */
export function macroKey(name: string): string {
  return name.startsWith('{') && name.endsWith('}') ? name.slice(1, -1) : name;
}

/** Everything a milter client needs from main.cf (and the service's -o) for `param`. */
export function readMilterSettings(
  config: ParamReader,
  param: 'smtpd_milters' | 'non_smtpd_milters',
  warn: (text: string) => void = () => undefined,
): MilterSettings {
  const base = {
    connectTimeoutMs: config.time('milter_connect_timeout') * 1000,
    commandTimeoutMs: config.time('milter_command_timeout') * 1000,
    contentTimeoutMs: config.time('milter_content_timeout') * 1000,
    defaultAction: config.get('milter_default_action').trim(),
    protocol: config.get('milter_protocol').trim(),
  };
  const lists = {} as Record<MacroStage, readonly string[]>;
  for (const stage of [...MACRO_STAGES, 'unknown'] as const) lists[stage] = splitList(config.get(MACRO_PARAMS[stage]));
  let milters: MilterSpec[];
  try {
    milters = parseMilterList(config.get(param), base);
  } catch (e) {
    // Name the parameter: the text alone does not say which list is wrong.
    throw e instanceof MilterConfigError ? new MilterConfigError(`${param}: ${e.message}`) : e;
  }
  const clientMaps = param === 'smtpd_milters' ? config.list('smtpd_milter_maps') : [];
  let opened: Promise<Dict[]> | undefined;
  const forClient = async (addr: string): Promise<readonly MilterSpec[] | 'disable' | undefined> => {
    opened ??= Promise.all(clientMaps.map((spec) => openDict(spec, { config, warn })));
    for (const dict of await opened) {
      const value = await dict.lookup(addr);
      if (value === undefined) continue;
      // Tables cannot hold an empty value, so Postfix spells "no milters" DISABLE.
      if (value.trim().toLowerCase() === 'disable') return 'disable';
      try {
        return parseMilterList(value, base);
      } catch (e) {
        throw e instanceof MilterConfigError ? new MilterConfigError(`smtpd_milter_maps: ${e.message}`) : e;
      }
    }
    return undefined;
  };
  return {
    milters,
    ...(clientMaps.length > 0 ? { forClient } : {}),
    headerChecks: () => {
      const specs = config.list('milter_header_checks');
      return Promise.all(specs.map((spec) => openDict(spec, { config, warn })));
    },
    macros: {
      lists,
      defaults: macroDefaults(config.get('milter_macro_defaults')),
      daemonName: config.get('milter_macro_daemon_name'),
      v: config.get('milter_macro_v'),
    },
  };
}
