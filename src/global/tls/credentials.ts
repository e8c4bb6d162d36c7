// Server certificates and keys as Postfix names them (TLS_README "Server-side
// certificate and private key configuration"): `*_tls_chain_files` (each file
// holds a private key followed by its certificate chain; several files give
// RSA and ECDSA side by side) or the older `*_tls_cert_file`/`_key_file`,
// `_eccert_file`/`_eckey_file`, `_dcert_file`/`_dkey_file` pairs; the CA list
// used to verify client certificates (`*_tls_CAfile`, `*_tls_CApath`).
// Touches: reads PEM files named by main.cf.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import type { ParamReader } from '../params/types.js';
import { TlsConfigError } from './protocols.js';

/** One private key with the certificate chain it signs for (leaf first). */
export interface KeyPair {
  readonly key: string;
  readonly certs: string;
  /** Where it came from, for messages. */
  readonly source: string;
}

/** Files larger than this are not certificates. */
const MAX_PEM_BYTES = 1024 * 1024;

function readPem(file: string, what: string): string {
  let text: string;
  try {
    if (statSync(file).size > MAX_PEM_BYTES) throw new Error('file too large');
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TlsConfigError(`cannot load ${what} from file "${file}": ${(e as Error).message}`);
  }
  return text;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** Split PEM text into (key, chain) groups: each private key starts a new group. */
export function splitChain(text: string, source: string): KeyPair[] {
  const groups: { key?: string; certs: string[] }[] = [];
  let current: { key?: string; certs: string[] } = { certs: [] };
  for (const m of text.matchAll(PEM_BLOCK)) {
    const label = m[1] ?? '';
    if (label.endsWith('PRIVATE KEY')) {
      if (current.key !== undefined) {
        groups.push(current);
        current = { certs: [] };
      }
      current.key = m[0];
    } else if (label === 'CERTIFICATE' || label === 'TRUSTED CERTIFICATE') {
      current.certs.push(m[0]);
    }
  }
  if (current.key !== undefined || current.certs.length > 0) groups.push(current);
  if (groups.length === 0) throw new TlsConfigError(`no private key or certificate found in "${source}"`);
  return groups.map((g) => {
    if (g.key === undefined) throw new TlsConfigError(`no private key found in "${source}"`);
    if (g.certs.length === 0) throw new TlsConfigError(`no certificate found for a private key in "${source}"`);
    checkPair(g.key, g.certs[0] ?? '', source);
    return { key: g.key, certs: g.certs.join('\n'), source };
  });
}

/** The key must belong to the leaf certificate (Postfix: "key does not match certificate"). */
function checkPair(key: string, leaf: string, source: string): void {
  try {
    const cert = new X509Certificate(leaf);
    if (!cert.checkPrivateKey(createPrivateKey(key))) {
      throw new TlsConfigError(`private key does not match the certificate in "${source}"`);
    }
  } catch (e) {
    if (e instanceof TlsConfigError) throw e;
    throw new TlsConfigError(`cannot parse key or certificate in "${source}": ${(e as Error).message}`);
  }
}

/**
 * The key pairs for `prefix` (`smtpd` or `smtp`). `_chain_files` wins over
 * the per-algorithm pairs, as in Postfix 3.4+. An empty result means no
 * certificate is configured (TLS cannot be offered).
 */
export function loadKeyPairs(config: ParamReader, prefix: string): KeyPair[] {
  const chainFiles = config.list(`${prefix}_tls_chain_files`);
  if (chainFiles.length > 0) return chainFiles.flatMap((f) => splitChain(readPem(f, 'key and certificate chain'), f));
  const pairs: KeyPair[] = [];
  for (const [c, k] of [
    ['cert_file', 'key_file'],
    ['dcert_file', 'dkey_file'],
    ['eccert_file', 'eckey_file'],
  ] as const) {
    const certFile = config.get(`${prefix}_tls_${c}`).trim();
    if (!certFile) continue;
    const keyFile = config.get(`${prefix}_tls_${k}`).trim() || certFile;
    const certText = readPem(certFile, 'certificate');
    const keyText = keyFile === certFile ? certText : readPem(keyFile, 'private key');
    const certs = [...certText.matchAll(PEM_BLOCK)].filter((m) => m[1] === 'CERTIFICATE').map((m) => m[0]);
    const key = [...keyText.matchAll(PEM_BLOCK)].find((m) => (m[1] ?? '').endsWith('PRIVATE KEY'))?.[0];
    if (certs.length === 0) throw new TlsConfigError(`no certificate found in "${certFile}"`);
    if (key === undefined) throw new TlsConfigError(`no private key found in "${keyFile}"`);
    checkPair(key, certs[0] ?? '', certFile);
    pairs.push({ key, certs: certs.join('\n'), source: certFile });
  }
  return pairs;
}

/** Trusted CA certificates from `_tls_CAfile` and every certificate file in `_tls_CApath`. */
export function loadCaCerts(config: ParamReader, prefix: string): string[] | undefined {
  const out: string[] = [];
  const file = config.get(`${prefix}_tls_CAfile`).trim();
  if (file) out.push(...[...readPem(file, 'CA certificates').matchAll(PEM_BLOCK)].map((m) => m[0]));
  const dir = config.get(`${prefix}_tls_CApath`).trim();
  if (dir) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      throw new TlsConfigError(`cannot read CA directory "${dir}": ${(e as Error).message}`);
    }
    // Bounded: a CApath is a directory of a few hundred certificates at most.
    for (const n of names.sort().slice(0, 10000)) {
      const p = join(dir, n);
      try {
        if (!statSync(p).isFile()) continue;
      } catch {
        continue;
      }
      const text = readPem(p, 'CA certificate');
      out.push(...[...text.matchAll(PEM_BLOCK)].filter((m) => m[1] === 'CERTIFICATE').map((m) => m[0]));
    }
  }
  return out.length > 0 ? out : undefined;
}

/** Postfix's fingerprint form: upper-case hex bytes joined by colons. */
export function fingerprint(der: Buffer, digest: string): string {
  const hex = createHash(digest).update(der).digest('hex').toUpperCase();
  return hex.replace(/(..)(?!$)/g, '$1:');
}

/** Certificate and public-key fingerprints as `check_ccert_access` and `relay_clientcerts` look them up. */
export function certFingerprints(cert: X509Certificate, digest: string): { cert: string; pubkey: string } {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return { cert: fingerprint(cert.raw, digest), pubkey: fingerprint(spki, digest) };
}
