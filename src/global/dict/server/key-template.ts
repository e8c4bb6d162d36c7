// The `%` expansions shared by the database tables (pgsql_table(5) "query",
// "result_format", memcache "key_format", ldap "query_filter"): %s the key,
// %u its local part, %d its domain, %1..%9 domain labels counted from the
// right, %S/%U/%D the original input key in result_format, %% a percent.
// A template that needs a part the key does not have suppresses the query.
import { TableSyntaxError } from '../table-source.js';

export interface KeyParts {
  readonly key: string;
  readonly local: string;
  /** undefined when the key has no `@`. */
  readonly domain: string | undefined;
}

export function keyParts(key: string): KeyParts {
  const at = key.lastIndexOf('@');
  return at < 0 ? { key, local: key, domain: undefined } : { key, local: key.slice(0, at), domain: key.slice(at + 1) };
}

/** Thrown internally when the key lacks a part the template needs (no query, not found). */
export class Suppressed extends Error {
  override name = 'Suppressed';
}

/**
 * Expand `template` for `lower` (the key, or a result value) and `upper`
 * (the input key, for %S %U %D). `escape` quotes inserted text for the query language.
 */
export function expandTemplate(
  template: string,
  lower: KeyParts,
  escape: (s: string) => string,
  upper?: KeyParts,
): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c !== '%') {
      out += c;
      continue;
    }
    const t = template[++i];
    const part = (p: KeyParts | undefined, which: string): string => {
      if (!p) throw new TableSyntaxError(`invalid %${which} in "${template}"`);
      if (which === 's') return p.key;
      if (which === 'u') return p.local;
      if (p.domain === undefined || p.domain === '') throw new Suppressed();
      if (which === 'd') return p.domain;
      const labels = p.domain.split('.');
      const label = labels[labels.length - Number(which)];
      if (label === undefined || label === '') throw new Suppressed();
      return label;
    };
    if (t === '%') out += '%';
    else if (t !== undefined && 'sud123456789'.includes(t)) out += escape(part(lower, t));
    else if (t !== undefined && 'SUD'.includes(t)) out += escape(part(upper, t.toLowerCase()));
    else throw new TableSyntaxError(`invalid %${t ?? ''} in "${template}"`);
  }
  return out;
}

/** `domain = a.example, b.example`: only keys in these domains are queried. */
export function domainAllowed(domains: readonly string[], key: string): boolean {
  if (domains.length === 0) return true;
  const d = keyParts(key).domain;
  return d !== undefined && domains.includes(d.toLowerCase());
}
