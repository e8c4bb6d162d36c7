// DANE for SMTP (RFC 7672; Postfix's TLS_README "dane" levels): with DNSSEC-
// validated MX and address records, TLSA records at `_port._tcp.host`
// decide whether TLS is mandatory and which certificate is acceptable.
// Only DANE-TA(2) and DANE-EE(3) are usable for SMTP; PKIX usages are not.
import { createHash, X509Certificate } from 'node:crypto';
import { checkServerIdentity, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import type { Resolver, TlsaRecord } from '../../global/dns/lookup.js';
import type { Candidate, RouteFailure } from './resolve.js';
import type { TlsPolicy } from './tls-policy.js';

/** The effective policy for one server once DNSSEC has had its say. */
export async function daneForCandidate(
  policy: TlsPolicy,
  c: Candidate,
  resolver: Resolver,
  dnssecEnabled: boolean,
): Promise<{ policy: TlsPolicy } | { failure: RouteFailure }> {
  if (policy.daneFirst) {
    // An MTA-STS policy gives way to DANE where this MX publishes usable, validated TLSA records.
    const dane = await daneForCandidate({ level: 'dane', match: policy.match }, c, resolver, dnssecEnabled);
    return 'policy' in dane && dane.policy.tlsa ? dane : { policy };
  }
  if (policy.level !== 'dane' && policy.level !== 'dane-only') return { policy };
  const may: TlsPolicy = { level: 'may', match: policy.match };
  // Without validated DNS the TLSA records mean nothing: opportunistic TLS is all that is left.
  if (!dnssecEnabled || c.unix || !c.authentic) {
    if (policy.level === 'dane-only') return { failure: noTlsa(c) };
    return { policy: may };
  }
  const name = `_${c.port}._tcp.${c.hostname}`;
  const r = await resolver.tlsa(name);
  if (r.kind === 'tempfail') {
    return { failure: { status: 'deferred', dsn: '4.7.5', reason: `TLSA lookup error for ${c.hostname}:${c.port}` } };
  }
  const usable = r.kind === 'ok' && r.authentic ? r.records.filter((t) => t.usage === 2 || t.usage === 3) : [];
  if (usable.length === 0) {
    if (policy.level === 'dane-only') return { failure: noTlsa(c) };
    return { policy: may };
  }
  return { policy: { level: 'dane', match: policy.match, tlsa: usable } };
}

function noTlsa(c: Candidate): RouteFailure {
  return {
    status: 'deferred',
    dsn: '4.7.5',
    reason: `No usable DANE TLSA records for ${c.hostname}[${c.address}]:${c.port}`,
  };
}

function digest(t: TlsaRecord, cert: X509Certificate): boolean {
  const data = t.selector === 1 ? cert.publicKey.export({ type: 'spki', format: 'der' }) : cert.raw;
  const value =
    t.matchingType === 0
      ? data
      : t.matchingType === 1
        ? createHash('sha256').update(data).digest()
        : t.matchingType === 2
          ? createHash('sha512').update(data).digest()
          : undefined;
  return value !== undefined && value.equals(t.data);
}

/** The presented chain, leaf first, each certificate parsed once (bounded against loops). */
function chainOf(sock: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  let cur: DetailedPeerCertificate | undefined = sock.getPeerCertificate(true);
  const seen = new Set<string>();
  while (cur?.raw && out.length < 10 && !seen.has(cur.fingerprint256)) {
    seen.add(cur.fingerprint256);
    out.push(new X509Certificate(cur.raw));
    cur = cur.issuerCertificate;
  }
  return out;
}

/** Whether the server's certificate satisfies one of the TLSA records. */
export function tlsaMatches(sock: TLSSocket, records: readonly TlsaRecord[], names: readonly string[]): boolean {
  const chain = chainOf(sock);
  const leaf = chain[0];
  if (!leaf) return false;
  // DANE-EE: the key (or certificate) itself is pinned; names and expiry do not matter (RFC 7672 section 3.1.1).
  if (records.some((t) => t.usage === 3 && digest(t, leaf))) return true;
  // DANE-TA: a certificate in the chain is the trust anchor; the chain below it must be
  // properly signed and the leaf must carry one of the reference names.
  for (let i = 1; i < chain.length; i++) {
    const anchor = chain[i] as X509Certificate;
    if (!records.some((t) => t.usage === 2 && digest(t, anchor))) continue;
    let signed = true;
    for (let j = 0; j < i && signed; j++) {
      const child = chain[j] as X509Certificate;
      const parent = chain[j + 1] as X509Certificate;
      signed = child.checkIssued(parent) && child.verify(parent.publicKey);
    }
    const legacy = sock.getPeerCertificate();
    if (signed && names.some((n) => checkServerIdentity(n, legacy) === undefined)) return true;
  }
  return false;
}
