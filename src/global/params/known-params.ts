// Which names postconf treats as parameters: the registry, the per-transport
// names derived from master.cf services, and user-defined names that other
// parameters use (`$name`, smtpd_restriction_classes). Everything else set in
// main.cf or by master.cf -o draws Postfix's "unused parameter" warning, and a
// `$name` that nothing defines draws "undefined parameter".
import { paramSpec, allParams } from './registry.js';
import { serviceParams } from './service-params.js';
import type { MasterEntry } from '../mastercf/types.js';
import type { ParamSpec } from './types.js';

/** Names referenced by `$name`, `${name...}` or `$(name...)` in a value. */
export function referencedNames(value: string): string[] {
  const out: string[] = [];
  const re = /\$(?:([A-Za-z0-9_]+)|[{(]([A-Za-z0-9_]+))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const n = m[1] ?? m[2];
    if (n) out.push(n);
  }
  return out;
}

export interface KnownParams {
  /** Static and derived specs by name. */
  readonly specs: ReadonlyMap<string, ParamSpec>;
  /** Names set in main.cf that are not built in but are used, so they count as parameters. */
  readonly userDefined: ReadonlySet<string>;
  /** `$name` references nothing defines. */
  readonly undefinedWarnings: string[];
  readonly mainUnused: string[];
  readonly masterUnused: string[];
}

/**
 * Classify names. `mainCf` is main.cf's settings (name → raw value), `masterEntries`
 * master.cf's services; file names are for warnings only.
 */
export function knownParams(
  mainCf: ReadonlyMap<string, string>,
  masterEntries: readonly MasterEntry[],
  mainFile: string,
  masterFile: string,
): KnownParams {
  const specs = new Map<string, ParamSpec>();
  for (const p of allParams()) specs.set(p.name, p);
  for (const p of serviceParams(masterEntries)) specs.set(p.name, p);
  const isBuiltin = (n: string): boolean => specs.has(n);

  const used = new Set<string>();
  for (const n of (mainCf.get('smtpd_restriction_classes') ?? paramSpec('smtpd_restriction_classes')?.def ?? '')
    .split(/[\s,]+/)
    .filter(Boolean))
    used.add(n);
  const warnings: string[] = [];
  const mainUnused: string[] = [];
  const masterUnused: string[] = [];
  const undefinedIn = (file: string, value: string): void => {
    for (const n of referencedNames(value)) {
      used.add(n);
      if (!isBuiltin(n) && !mainCf.has(n)) warnings.push(`${file}: undefined parameter: ${n}`);
    }
  };
  for (const e of masterEntries) for (const v of e.overrides.values()) undefinedIn(masterFile, v);
  for (const v of mainCf.values()) undefinedIn(mainFile, v);

  const userDefined = new Set<string>();
  for (const [n, v] of mainCf) {
    if (isBuiltin(n)) continue;
    if (used.has(n)) userDefined.add(n);
    else mainUnused.push(`${mainFile}: unused parameter: ${n}=${v}`);
  }
  for (const e of masterEntries) {
    for (const [n, v] of e.overrides) {
      if (!isBuiltin(n) && !userDefined.has(n) && !used.has(n))
        masterUnused.push(`${masterFile}: unused parameter: ${n}=${v}`);
    }
  }
  return { specs, userDefined, undefinedWarnings: warnings, mainUnused, masterUnused };
}

/**
 * The warnings Postfix logs about a configuration (undefined `$name`s, unused
 * main.cf and master.cf -o names), for master/postfix check to log at start.
 */
export function configWarnings(
  mainCf: ReadonlyMap<string, string>,
  masterEntries: readonly MasterEntry[],
  mainFile: string,
  masterFile: string,
): string[] {
  const k = knownParams(mainCf, masterEntries, mainFile, masterFile);
  return [...k.undefinedWarnings, ...k.mainUnused, ...k.masterUnused];
}
