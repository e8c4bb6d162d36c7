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

/** ldap_table(5) settings, which main.cf may hold as `<name>_<setting>` for an `ldap:<name>` table. */
const LDAP_SETTINGS: ReadonlySet<string> = new Set([
  'server_host',
  'server_port',
  'timeout',
  'search_base',
  'query_filter',
  'result_format',
  'result_filter',
  'domain',
  'result_attribute',
  'special_result_attribute',
  'terminal_result_attribute',
  'leaf_result_attribute',
  'scope',
  'bind',
  'bind_dn',
  'bind_pw',
  'recursion_limit',
  'expansion_limit',
  'size_limit',
  'dereference',
  'chase_referrals',
  'version',
  'debuglevel',
  'sasl',
  'sasl_mechs',
  'sasl_realm',
  'sasl_authz_id',
  'sasl_minssf',
  'start_tls',
  'tls_ca_cert_dir',
  'tls_ca_cert_file',
  'tls_cert',
  'tls_key',
  'tls_require_cert',
  'tls_random_file',
  'tls_cipher_suite',
  'cache',
  'cache_expiry',
  'cache_size',
]);

/** Names of `ldap:name` tables (not file paths) used in any value. */
function legacyLdapTables(values: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const v of values) for (const m of v.matchAll(/\bldap:([A-Za-z0-9_]+)/g)) if (m[1]) out.add(m[1]);
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

  const ldap = legacyLdapTables([...mainCf.values(), ...masterEntries.flatMap((e) => [...e.overrides.values()])]);
  const isLdapSetting = (n: string): boolean =>
    [...ldap].some((t) => n.startsWith(`${t}_`) && LDAP_SETTINGS.has(n.slice(t.length + 1)));
  const userDefined = new Set<string>();
  for (const [n, v] of mainCf) {
    if (isBuiltin(n)) continue;
    if (used.has(n) || isLdapSetting(n)) userDefined.add(n);
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
