// The effective configuration: main.cf entries over registry defaults, with
// lazy expansion and typed accessors. `loadConfig(dir)` is what daemons and
// commands call; `Config.fromText` serves tests and `postconf -c`.
import { join } from 'node:path';
import { expand, ExpansionError } from './expand.js';
import { hostDefault } from './host-defaults.js';
import { parseMainCf, type MainCfEntry, type MainCfProblem } from './main-cf.js';
import { isRawParam, paramSpec } from './registry.js';
import { errnoText, readConfigFile } from './read-config-file.js';
import { transportParamDefault } from './service-params.js';
import type { ParamReader } from './types.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const TIME_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

export class Config implements ParamReader {
  private readonly cache = new Map<string, string>();
  private readonly listCache = new Map<string, string[]>();

  constructor(
    /** Values set in main.cf (unexpanded), by name. */
    readonly settings: ReadonlyMap<string, string>,
    readonly source: string,
    readonly entries: readonly MainCfEntry[] = [],
    readonly problems: readonly MainCfProblem[] = [],
    private readonly overrides: ReadonlyMap<string, string> = new Map(),
  ) {}

  static fromText(text: string, source = 'main.cf'): Config {
    const parsed = parseMainCf(text);
    const settings = new Map<string, string>();
    for (const e of parsed.entries) settings.set(e.name, e.value);
    return new Config(settings, source, parsed.entries, parsed.problems);
  }

  /** Unexpanded text of a name: override, main.cf, then registry/host default. */
  raw(name: string): string | undefined {
    const o = this.overrides.get(name);
    if (o !== undefined) return o;
    const s = this.settings.get(name);
    if (s !== undefined) return s;
    return defaultText(name, (n) => this.get(n));
  }

  isSet(name: string): boolean {
    return this.overrides.has(name) || this.settings.has(name);
  }

  get(name: string): string {
    let v = this.cache.get(name);
    if (v === undefined) {
      const raw = this.raw(name);
      if (raw === undefined) v = '';
      else if (isRawParam(name)) v = raw;
      else {
        try {
          v = expand(raw, (n) => this.raw(n), [name]);
        } catch (e) {
          if (!(e instanceof ExpansionError)) throw e;
          const line = this.entries.findLast((x) => x.name === name)?.line;
          const where = line === undefined ? this.source : `${this.source}, line ${line}`;
          throw new ConfigError(`${where}: parameter ${name}: ${e.message}`);
        }
      }
      this.cache.set(name, v);
    }
    return v;
  }

  bool(name: string): boolean {
    const v = this.get(name).toLowerCase();
    if (v === 'yes' || v === 'true') return true;
    if (v === 'no' || v === 'false') return false;
    throw new ConfigError(`bad boolean configuration: ${name} = ${this.get(name)}`);
  }

  int(name: string): number {
    const v = this.get(name);
    if (!/^-?\d+$/.test(v)) throw new ConfigError(`bad numerical configuration: ${name} = ${v}`);
    return Number.parseInt(v, 10);
  }

  size(name: string): number {
    return this.int(name);
  }

  time(name: string): number {
    const v = this.get(name);
    const m = /^(\d+)([smhdw]?)$/.exec(v);
    if (!m) throw new ConfigError(`bad time configuration: ${name} = ${v}`);
    const def = paramSpec(name)?.def ?? transportParamDefault(name)?.def ?? '';
    const defUnit = /[\d}]([smhdw])$/.exec(def)?.[1] ?? 's';
    return Number.parseInt(m[1] ?? '0', 10) * (TIME_UNITS[m[2] || defUnit] ?? 1);
  }

  list(name: string): string[] {
    // Daemons read some lists per message; the split is kept with the cached value (a copy goes out).
    let items = this.listCache.get(name);
    if (items === undefined) {
      items = splitList(this.get(name));
      this.listCache.set(name, items);
    }
    return items.slice();
  }

  withOverrides(overrides: ReadonlyMap<string, string> | Record<string, string>): Config {
    const merged = new Map(this.overrides);
    const items: Iterable<[string, string]> =
      overrides instanceof Map ? overrides.entries() : Object.entries(overrides as Record<string, string>);
    for (const [k, v] of items) merged.set(k, v);
    return new Config(this.settings, this.source, this.entries, this.problems, merged);
  }

  /**
   * The configuration a master.cf service runs with: `$service_name` set to the
   * service's name (as master(8) passes it), then the entry's `-o` overrides.
   */
  forService(entry: { readonly name: string; readonly overrides: ReadonlyMap<string, string> }): Config {
    return this.withOverrides(new Map([['service_name', entry.name], ...entry.overrides]));
  }
}

/** Postfix list syntax: separators are commas and whitespace; `{ ... }` stays one item. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of value) {
    if (ch === '{') depth++;
    if (ch === '}') depth = Math.max(0, depth - 1);
    if (depth === 0 && (ch === ',' || /\s/.test(ch))) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

/**
 * Default text of a name: the registry (with host-computed values), else the
 * per-transport family (`relay_destination_concurrency_limit` falls back to
 * `$default_destination_concurrency_limit`), else undefined.
 */
export function defaultText(name: string, lookup: (n: string) => string = () => ''): string | undefined {
  const spec = paramSpec(name);
  if (!spec) return transportParamDefault(name)?.def;
  if (spec.origin === 'host') return hostDefault(name, lookup) ?? spec.def;
  return spec.def;
}

/**
 * The configuration directory a command or daemon should use: the `-c`
 * argument, else MAIL_CONFIG, else the install-time config_directory.
 */
export function configDirectory(explicit?: string): string {
  if (explicit) return explicit;
  const env = process.env['MAIL_CONFIG'];
  if (env) return env;
  return paramSpec('config_directory')?.def ?? '/etc/postfix';
}

/** `loadConfig(configDirectory(dir))`: what commands call after parsing `-c`. */
export function getConfig(configDir?: string): Config {
  return loadConfig(configDirectory(configDir));
}

/** Read `dir/main.cf`; a missing file is an error, as for Postfix. */
export function loadConfig(dir: string): Config {
  const file = join(dir, 'main.cf');
  let text: string;
  try {
    text = readConfigFile(file);
  } catch (e) {
    throw new ConfigError(`open ${file}: ${errnoText(e)}`);
  }
  const cfg = Config.fromText(text, file);
  const bad = cfg.problems.find((p) => p.fatal);
  if (bad) throw new ConfigError(`${file}, line ${bad.line}: ${bad.message}`);
  // config_directory always reflects where the file was read from.
  return cfg.withOverrides({ config_directory: dir });
}
