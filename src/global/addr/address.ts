// RFC 5321/5322 address helpers shared by smtpd, cleanup, trivial-rewrite and the
// table-driven features: split an address into local part and domain (quotes
// respected), quote and unquote local parts, strip source routes, and check the
// syntax smtpd accepts in MAIL FROM/RCPT TO. Pure functions; no configuration.

/** RFC 5321 4.5.3.1: local part 64, domain 255 octets; a path is at most 256. */
export const MAX_LOCAL_PART = 64;
export const MAX_DOMAIN = 255;
export const MAX_ADDRESS = 254;

export interface SplitAddress {
  /** The local part as written (still quoted if it was). */
  readonly local: string;
  /** The domain without the `@`; '' when the address has none. */
  readonly domain: string;
  /** Whether an `@` separated the two (so `user@` has an empty domain, `user` has none). */
  readonly hasAt: boolean;
}

/**
 * Split at the last `@` that is outside a quoted string and not escaped, the
 * way Postfix's tokenizer sees an address: `"a@b"@c` has local part `"a@b"`.
 */
export function splitAddress(addr: string): SplitAddress {
  let inQuote = false;
  let at = -1;
  for (let i = 0; i < addr.length; i++) {
    const ch = addr[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '"') inQuote = !inQuote;
    else if (ch === '@' && !inQuote) at = i;
  }
  if (at < 0) return { local: addr, domain: '', hasAt: false };
  return { local: addr.slice(0, at), domain: addr.slice(at + 1), hasAt: true };
}

/** Remove RFC 5321 quoting: `"a b"` → `a b`, `"a\"b"` → `a"b`. Unquoted text is returned as is. */
export function unquoteLocalPart(local: string): string {
  if (!local.includes('"') && !local.includes('\\')) return local;
  let out = '';
  for (let i = 0; i < local.length; i++) {
    const ch = local[i] ?? '';
    if (ch === '"') continue;
    if (ch === '\\' && i + 1 < local.length) {
      out += local[++i] ?? '';
      continue;
    }
    out += ch;
  }
  return out;
}

// RFC 5321 atext, used in Dot-string.
const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]+$/;

/** Whether a (dequoted) local part can be written without quotes (RFC 5321 Dot-string). */
export function isDotString(local: string): boolean {
  if (local === '') return false;
  return local.split('.').every((atom) => ATEXT.test(atom));
}

/** Quote a dequoted local part when RFC 5321 requires it. */
export function quoteLocalPart(local: string): string {
  if (isDotString(local)) return local;
  return `"${local.replace(/(["\\])/g, '\\$1')}"`;
}

/** Join a dequoted local part and a domain into the external (quoted) form. */
export function externalAddress(local: string, domain: string): string {
  return domain === '' ? quoteLocalPart(local) : `${quoteLocalPart(local)}@${domain}`;
}

/** The internal form Postfix works with: local part dequoted, domain as given. */
export function internalAddress(addr: string): string {
  const s = splitAddress(addr);
  const local = unquoteLocalPart(s.local);
  return s.hasAt ? `${local}@${s.domain}` : local;
}

/**
 * Drop an RFC 5321 source route (`@a,@b:user@c` → `user@c`), which servers
 * should ignore (RFC 5321 appendix C). Returns the address unchanged without one.
 */
export function stripSourceRoute(addr: string): string {
  if (!addr.startsWith('@')) return addr;
  const colon = addr.indexOf(':');
  if (colon < 0) return addr;
  return addr.slice(colon + 1);
}

/** `[1.2.3.4]` or `[IPv6:...]`: the literal's text without brackets, else undefined. */
export function addressLiteral(domain: string): string | undefined {
  const m = /^\[(?:ipv6:)?([^\]]*)\]$/i.exec(domain);
  return m ? m[1] : undefined;
}

const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** RFC 1035-ish host name check as Postfix's valid_hostname() applies it (underscores tolerated). */
export function isValidHostname(name: string): boolean {
  if (name === '' || name.length > MAX_DOMAIN) return false;
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n === '') return false;
  const labels = n.split('.');
  if (!labels.every((l) => LABEL.test(l))) return false;
  // An all-numeric name is an address in disguise, not a host name.
  return !labels.every((l) => /^\d+$/.test(l));
}

/** Fully-qualified in the sense of reject_non_fqdn_*: at least one dot inside the name. */
export function isFqdn(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  return n.includes('.') && isValidHostname(n);
}

export type SyntaxProblem = 'too long' | 'bad local part' | 'bad domain' | 'bad route';

/**
 * Syntax check of a MAIL FROM/RCPT TO path content (without the angle brackets):
 * optional source route, Dot-string or Quoted-string local part, and a host name
 * or address literal. The empty (null) path is accepted; the caller decides where.
 */
export function checkPathSyntax(addr: string): SyntaxProblem | undefined {
  if (addr === '') return undefined;
  if (addr.length > MAX_ADDRESS + 2) return 'too long';
  let rest = addr;
  if (rest.startsWith('@')) {
    const colon = rest.indexOf(':');
    if (colon < 0) return 'bad route';
    const hops = rest.slice(0, colon).split(',');
    if (!hops.every((h) => h.startsWith('@') && isDomainOrLiteral(h.slice(1)))) return 'bad route';
    rest = rest.slice(colon + 1);
  }
  const s = splitAddress(rest);
  if (s.local.length > MAX_LOCAL_PART + 2 && !s.local.startsWith('"')) return 'too long';
  if (!isLocalPartSyntax(s.local)) return 'bad local part';
  if (s.hasAt && !isDomainOrLiteral(s.domain)) return 'bad domain';
  return undefined;
}

function isLocalPartSyntax(local: string): boolean {
  if (local.startsWith('"')) {
    // Quoted-string: qtextSMTP or quoted-pair, nothing after the closing quote.
    return /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\uffff]|\\[\x20-\x7e])*"$/.test(local);
  }
  return isDotString(local);
}

function isDomainOrLiteral(domain: string): boolean {
  const lit = addressLiteral(domain);
  if (lit !== undefined) return lit !== '';
  return isValidHostname(domain.endsWith('.') ? domain.slice(0, -1) : domain) || /^\d+(\.\d+){3}$/.test(domain);
}
