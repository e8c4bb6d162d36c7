// The `fingerprint` TLS security level (TLS_README "Certificate fingerprint
// verification"): the server is authenticated by the digest of its
// certificate or of its public key, listed in smtp_tls_fingerprint_cert_match
// or a policy's `match=` (several joined by `|`), with the algorithm of
// smtp_tls_fingerprint_digest. No CA is involved and names do not matter.
import { createHash, X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

/** `AB:CD:...`, `abcd...`: compared without colons and case. */
function normalize(fp: string): string {
  return fp.replace(/:/g, '').toLowerCase();
}

/** `AB:CD:...` fingerprints of the peer's certificate and of its public key. */
export function peerFingerprints(sock: TLSSocket, digest: string): { cert: string; pkey: string } | undefined {
  const raw = sock.getPeerCertificate().raw;
  if (!raw) return undefined;
  const x = new X509Certificate(raw);
  const hex = (b: Buffer): string =>
    createHash(digest)
      .update(b)
      .digest('hex')
      .toUpperCase()
      .replace(/(..)(?!$)/g, '$1:');
  return { cert: hex(x.raw), pkey: hex(x.publicKey.export({ type: 'spki', format: 'der' })) };
}

/** Whether the peer's certificate or public key has one of the listed fingerprints. */
export function fingerprintMatches(sock: TLSSocket, digest: string, patterns: readonly string[]): boolean {
  const fp = peerFingerprints(sock, digest);
  if (!fp) return false;
  const want = new Set(patterns.map(normalize).filter(Boolean));
  return want.has(normalize(fp.cert)) || want.has(normalize(fp.pkey));
}
