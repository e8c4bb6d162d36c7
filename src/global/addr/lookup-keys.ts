// The order in which table-driven features try keys, as access(5), aliases(5),
// virtual(5) and transport(5) document it. Callers try the keys in order and
// take the first hit; generating them here keeps every feature consistent.
import { splitAddress, unquoteLocalPart } from './address.js';
import { splitExtension, type ExtensionOptions } from './extension.js';

export interface DomainKeyOptions {
  /**
   * Whether `example.com` in a table also matches `sub.example.com` (the table's
   * feature is listed in `parent_domain_matches_subdomains`). When false, parent
   * domains are tried as `.example.com`.
   */
  readonly parentMatchesSubdomains: boolean;
}

/**
 * Keys for a host or domain name: the name itself, then each parent domain as
 * `example.com` (parent style) or `.example.com`. A trailing dot is ignored.
 */
export function domainKeys(name: string, opts: DomainKeyOptions): string[] {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n === '') return [];
  const keys = [n];
  let rest = n;
  for (let dot = rest.indexOf('.', 1); dot >= 0; dot = rest.indexOf('.', 1)) {
    rest = rest.slice(dot + 1);
    if (rest === '') break;
    keys.push(opts.parentMatchesSubdomains ? rest : `.${rest}`);
  }
  return keys;
}

export interface AddressKeyOptions extends DomainKeyOptions, ExtensionOptions {
  /** Key used for the null address (`smtpd_null_access_lookup_key`, default `<>`). */
  readonly nullKey?: string;
}

/**
 * access(5) EMAIL ADDRESS PATTERNS: `user+ext@domain`, `user@domain`, the domain
 * and its parents, `user+ext@`, `user@`. The address is taken in its internal
 * (dequoted) form; an address without a domain gives only the `user@` keys.
 */
export function accessAddressKeys(address: string, opts: AddressKeyOptions): string[] {
  if (address === '') return [opts.nullKey ?? '<>'];
  const s = splitAddress(address);
  const local = unquoteLocalPart(s.local);
  const ext = splitExtension(local, opts);
  const keys: string[] = [];
  if (s.domain !== '') {
    keys.push(`${local}@${s.domain}`);
    if (ext) keys.push(`${ext.base}@${s.domain}`);
    keys.push(...domainKeys(s.domain, opts));
  }
  keys.push(`${local}@`);
  if (ext) keys.push(`${ext.base}@`);
  return unique(keys);
}

/**
 * Keys for virtual(5)/canonical(5)-style lookups: `user+ext@domain`,
 * `user@domain`, then (for addresses in local domains) `user+ext` and `user`,
 * then the catch-all `@domain`.
 */
export function mailAddressKeys(address: string, opts: ExtensionOptions & { readonly localDomain: boolean }): string[] {
  const s = splitAddress(address);
  const local = unquoteLocalPart(s.local);
  const ext = splitExtension(local, opts);
  const keys: string[] = [];
  if (s.hasAt) {
    keys.push(`${local}@${s.domain}`);
    if (ext) keys.push(`${ext.base}@${s.domain}`);
  }
  if (opts.localDomain || !s.hasAt) {
    keys.push(local);
    if (ext) keys.push(ext.base);
  }
  if (s.hasAt && s.domain !== '') keys.push(`@${s.domain}`);
  return unique(keys);
}

/**
 * access(5) client address keys: `1.2.3.4`, `1.2.3`, `1.2`, `1`; for IPv6 the
 * address as written, then shortened one `:`-field at a time (`2001:db8::1`,
 * `2001:db8:`→`2001:db8`, `2001`).
 */
export function clientAddressKeys(addr: string): string[] {
  const a = addr.replace(/^ipv6:/i, '').toLowerCase();
  const sep = a.includes(':') ? ':' : '.';
  const keys = [a];
  let rest = a;
  for (;;) {
    const i = rest.lastIndexOf(sep);
    if (i <= 0) break;
    rest = rest.slice(0, i);
    // `2001:db8::1` shortens to `2001:db8:`; the empty field is dropped, not looked up.
    while (rest.endsWith(sep)) rest = rest.slice(0, -1);
    if (rest === '') break;
    keys.push(rest);
  }
  return unique(keys);
}

function unique(keys: string[]): string[] {
  return [...new Set(keys)];
}
