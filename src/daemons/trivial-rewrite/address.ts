// Address pieces trivial-rewrite(8) works with: Postfix's internal (unquoted)
// form `localpart@domain`, split at the rightmost `@` so that a quoted local
// part such as `"a@b"@example.com` keeps its inner `@` in the local part.

export interface AddressParts {
  readonly local: string;
  /** `undefined` when the address has no `@` at all; `''` for a trailing `@`. */
  readonly domain: string | undefined;
}

export function splitAddress(addr: string): AddressParts {
  const at = addr.lastIndexOf('@');
  if (at < 0) return { local: addr, domain: undefined };
  return { local: addr.slice(0, at), domain: addr.slice(at + 1) };
}

export function joinAddress(local: string, domain: string | undefined): string {
  return domain === undefined ? local : `${local}@${domain}`;
}

/** The local part without its address extension (`user+ext` → `user`), per recipient_delimiter. */
export function stripExtension(local: string, delimiters: string): string | undefined {
  if (!delimiters) return undefined;
  let cut = -1;
  for (const ch of delimiters) {
    const i = local.indexOf(ch);
    // Postfix never treats a leading delimiter as one (`-foo` stays `-foo`).
    if (i > 0 && (cut < 0 || i < cut)) cut = i;
  }
  return cut > 0 ? local.slice(0, cut) : undefined;
}

/** True for `[192.0.2.1]` / `[ipv6:2001:db8::1]` address literals. */
export function isAddressLiteral(domain: string): boolean {
  return domain.startsWith('[') && domain.endsWith(']');
}

/** The address inside a literal, without the brackets and an `ipv6:` tag. */
export function literalAddress(domain: string): string {
  const inner = domain.slice(1, -1);
  return inner.toLowerCase().startsWith('ipv6:') ? inner.slice(5) : inner;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isNumericDomain(domain: string): boolean {
  const m = IPV4.exec(domain);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}

/** RFC 1035 host name syntax with Postfix's leniency (underscores, digits-only labels). */
export function isValidHostname(domain: string): boolean {
  if (domain.length === 0 || domain.length > 255) return false;
  const labels = domain.split('.');
  return labels.every((l) => l.length > 0 && l.length <= 63 && /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/.test(l));
}
