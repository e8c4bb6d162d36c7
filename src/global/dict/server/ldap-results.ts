// Which attribute values of LDAP result entries make up a table's answer
// (ldap_table(5)): `result_attribute` values from every entry;
// `special_result_attribute` values are DNs (groups' members) whose entries
// are fetched and treated the same way, up to `recursion_limit` levels;
// `leaf_result_attribute` values count only from entries with no special
// attribute; an entry with a `terminal_result_attribute` gives that and
// nothing else. Kept apart from the connection handling in ldap-dict.ts.
import type { TableConfig } from './config-file.js';

export interface ResultKinds {
  readonly result: readonly string[];
  readonly special: readonly string[];
  readonly leaf: readonly string[];
  readonly terminal: readonly string[];
  /** Every attribute to request from the server. */
  readonly all: string[];
}

export function resultAttributes(cfg: TableConfig): ResultKinds {
  const list = (name: string): string[] => cfg.list(name).map((a) => a.toLowerCase());
  const given = list('result_attribute');
  const result = given.length ? given : ['maildrop'];
  const special = list('special_result_attribute');
  const leaf = list('leaf_result_attribute');
  const terminal = list('terminal_result_attribute');
  return { result, special, leaf, terminal, all: [...new Set([...result, ...special, ...leaf, ...terminal])] };
}

function values(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.flatMap(values);
  if (Buffer.isBuffer(v)) return [v.toString('utf8')];
  return typeof v === 'string' ? [v] : [];
}

export type Entry = Record<string, unknown>;

export interface Recursion {
  readonly limit: number;
  /** The entry named by a DN (a base search); [] when it does not exist. */
  readonly fetch: (dn: string) => Promise<Entry[]>;
  /** Called when following `attr=dn` would go deeper than `limit`; expected to throw. */
  readonly onLimit: (attr: string, dn: string, depth: number) => never;
}

/**
 * Feed every answer value of `entries` (and of the entries their special
 * attributes name) to `add`, in the server's attribute order as Postfix does.
 */
export async function collectResults(
  entries: readonly Entry[],
  kinds: ResultKinds,
  add: (value: string) => void,
  recursion: Recursion,
  depth = 1,
): Promise<void> {
  for (const entry of entries) {
    // Servers may spell attribute names in any case.
    const attrs: [string, string[]][] = Object.entries(entry).map(([n, v]) => [n.toLowerCase(), values(v)]);
    const present = (names: readonly string[]): boolean => attrs.some(([n, v]) => names.includes(n) && v.length > 0);
    const terminal = present(kinds.terminal);
    const leaf = !present(kinds.special);
    for (const [name, vals] of attrs) {
      if (terminal) {
        if (kinds.terminal.includes(name)) vals.forEach(add);
      } else if (kinds.result.includes(name)) {
        vals.forEach(add);
      } else if (kinds.leaf.includes(name)) {
        if (leaf) vals.forEach(add);
      } else if (kinds.special.includes(name)) {
        for (const dn of vals) {
          if (depth >= recursion.limit) recursion.onLimit(name, dn, depth);
          await collectResults(await recursion.fetch(dn), kinds, add, recursion, depth + 1);
        }
      }
    }
  }
}
