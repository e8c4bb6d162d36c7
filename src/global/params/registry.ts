// The one parameter registry: lookup by name over the 3.7 table with Postern's
// hardened defaults applied (hardened.ts) and install-time overrides
// (install-defaults.ts). Per-transport names derived from master.cf live in
// service-params.ts.
import { HARDENED_DEFAULTS } from './hardened.js';
import { installDefaults } from './install-defaults.js';
import { POSTERN_PARAMS } from './postern-params.js';
import { PARAMS } from './registry-table.js';
import type { ParamSpec } from './types.js';

const table: ParamSpec[] = [
  ...PARAMS.map((p) => {
    const h = HARDENED_DEFAULTS.find((d) => d.name === p.name);
    return h ? { ...p, def: h.postern } : p;
  }),
  ...POSTERN_PARAMS,
].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
const byName = new Map<string, ParamSpec>(table.map((p) => [p.name, p]));
let installed = false;

/** Apply install-defaults.json once, on first use, so a bad file is reported by the command that reads it. */
function ensureInstalled(): void {
  if (installed) return;
  const over = installDefaults((n) => byName.get(n)?.origin === 'build');
  for (const [name, def] of over) {
    const spec = byName.get(name);
    if (!spec) continue;
    const next = { ...spec, def };
    byName.set(name, next);
    table[table.indexOf(spec)] = next;
  }
  installed = true;
}

/**
 * Parameters whose values are expanded only at use, with per-message names
 * such as $user, $home or $client_address (Postfix's "raw" parameters):
 * Config.get and `postconf -x` return them unexpanded.
 */
const RAW_PARAMS: ReadonlySet<string> = new Set([
  'default_rbl_reply',
  'forward_path',
  'luser_relay',
  'mailbox_command',
  'postscreen_expansion_filter',
  'postscreen_reject_footer',
  'smtpd_expansion_filter',
  'smtpd_reject_footer',
]);

export function isRawParam(name: string): boolean {
  return RAW_PARAMS.has(name);
}

export function paramSpec(name: string): ParamSpec | undefined {
  ensureInstalled();
  return byName.get(name);
}

/** Every static parameter, sorted by name. */
export function allParams(): readonly ParamSpec[] {
  ensureInstalled();
  return table;
}

/** The Postfix 3.7 default text of a static parameter, before Postern's hardening and install overrides. */
export function postfix37Default(name: string): string | undefined {
  return PARAMS.find((p) => p.name === name)?.def;
}
