// TLS policy of the smtp(8) client: the security level for a destination
// (`smtp_tls_security_level`, overridden per destination by
// `smtp_tls_policy_maps`), the handshake options, and the verdict on the
// server certificate with Postfix's trust words (Anonymous, Untrusted,
// Trusted, Verified) and failure texts.
import { getHashes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { Dict } from '../../global/dict/dict-api.js';
import type { TlsaRecord } from '../../global/dns/lookup.js';
import { DictRetryError } from '../../global/dict/dict-api.js';
import type { MtaSts } from './mta-sts.js';
import type { Destination } from './nexthop.js';
import { isTlsLevel, type ClientSettings, type TlsLevel, type TlsParams } from './settings.js';
import { TlsConfigError, parseProtocols, type ProtocolRange } from '../../global/tls/protocols.js';

export interface TlsPolicy {
  readonly level: TlsLevel;
  /** Name patterns for verify/secure (`hostname`, `nexthop`, `dot-nexthop`, or literal names). */
  readonly match: readonly string[];
  /** DNSSEC-validated TLSA records, set only for an effective `dane` policy (dane.ts). */
  readonly tlsa?: readonly TlsaRecord[];
  /** The checked smtp_tls_fingerprint_digest, set for the `fingerprint` level. */
  readonly digest?: string;
  /** A policy's `protocols=` attribute, over the main.cf protocols. */
  readonly protocols?: ProtocolRange;
  /** Set when an MTA-STS policy applies (the `mta-sts:` entry of smtp_tls_policy_maps). */
  readonly sts?: { readonly domain: string; readonly mode: 'enforce' | 'testing'; readonly mx: readonly string[] };
  /** RFC 8461 section 2: DANE, where the MX has usable TLSA records, wins over MTA-STS. */
  readonly daneFirst?: boolean;
}

export type OpenDict = (spec: string) => Promise<Dict>;

export class TlsPolicyError extends Error {
  override name = 'TlsPolicyError';
}

/** Keys tried in smtp_tls_policy_maps: `[host]:port`, `[host]` for bracketed hops; the domain, then `.parent` domains. */
function policyKeys(nexthop: string, dest: Destination): string[] {
  if (dest.kind === 'unix') return [nexthop];
  if (!dest.mx) return [`[${dest.host}]:${dest.port}`, `[${dest.host}]`, dest.host];
  const keys = [dest.host];
  const labels = dest.host.split('.');
  for (let i = 1; i < labels.length; i++) keys.push(`.${labels.slice(i).join('.')}`);
  return keys;
}

/** The match list a level starts with before any policy `match=`. */
function defaultMatch(level: TlsLevel, s: ClientSettings): readonly string[] {
  if (level === 'fingerprint') return s.tlsFingerprintMatch;
  return level === 'secure' ? s.tlsSecureMatch : s.tlsVerifyMatch;
}

export async function tlsPolicyFor(
  nexthop: string,
  dest: Destination,
  s: ClientSettings,
  openDict: OpenDict | undefined,
  sts?: MtaSts,
): Promise<TlsPolicy> {
  const policy = await lookupPolicy(nexthop, dest, s, openDict, sts);
  if (policy.level !== 'fingerprint') return policy;
  const param = s.protocol === 'lmtp' ? 'lmtp_tls_fingerprint_digest' : 'smtp_tls_fingerprint_digest';
  const digest = s.tlsFingerprintDigest.trim().toLowerCase();
  if (!getHashes().includes(digest)) throw new TlsPolicyError(`${param}: unsupported digest "${digest}"`);
  if (policy.match.length === 0) throw new TlsPolicyError(`fingerprint TLS policy for ${nexthop} lists no fingerprint`);
  return { ...policy, digest };
}

/**
 * The policy when no table can change it (no smtp_tls_policy_maps) and it
 * needs no checks (not `fingerprint`): what tlsPolicyFor would answer, without
 * its awaits. Otherwise undefined.
 */
export function fixedTlsPolicy(s: ClientSettings): TlsPolicy | undefined {
  if (s.tlsPolicyMaps.length > 0 || s.tlsLevel === 'fingerprint') return undefined;
  return { level: s.tlsLevel, match: defaultMatch(s.tlsLevel, s) };
}

/** The pseudo-table that stands for the built-in MTA-STS resolver (mta-sts.ts). */
export function isMtaStsSpec(spec: string): boolean {
  return spec.toLowerCase().startsWith('mta-sts:');
}

async function lookupPolicy(
  nexthop: string,
  dest: Destination,
  s: ClientSettings,
  openDict: OpenDict | undefined,
  sts: MtaSts | undefined,
): Promise<TlsPolicy> {
  let testing: TlsPolicy['sts'];
  const found = await (async (): Promise<TlsPolicy | undefined> => {
    for (const spec of s.tlsPolicyMaps) {
      if (isMtaStsSpec(spec)) {
        // MTA-STS speaks for MX-routed mail only: not for [host] next hops or unix sockets.
        if (!sts || dest.kind !== 'inet' || !dest.mx) continue;
        const p = await sts.policyFor(dest.host);
        if (p?.mode === 'enforce') {
          return {
            level: 'secure',
            match: ['hostname'],
            sts: { domain: dest.host, mode: 'enforce', mx: p.mx },
            ...(s.tlsLevel === 'dane' || s.tlsLevel === 'dane-only' ? { daneFirst: true } : {}),
          };
        }
        if (p?.mode === 'testing') testing = { domain: dest.host, mode: 'testing', mx: p.mx };
        continue;
      }
      if (!openDict) continue;
      const dict = await openDict(spec);
      for (const key of policyKeys(nexthop, dest)) {
        const value = await dict.lookup(key);
        if (value !== undefined) return parsePolicy(value, s, spec);
      }
    }
    return undefined;
  })();
  const policy = found ?? { level: s.tlsLevel, match: defaultMatch(s.tlsLevel, s) };
  return testing && !policy.sts ? { ...policy, sts: testing } : policy;
}

/**
 * `verify match=hostname:nexthop`, `secure match=.example.com`, `encrypt`,
 * `fingerprint match=AB:CD:...|EF:...`. Fingerprints contain colons, so
 * their list separator is `|`, and several match= attributes add up.
 */
export function parsePolicy(value: string, s: ClientSettings, spec: string): TlsPolicy {
  const [levelText, ...attrs] = value.trim().split(/\s+/);
  const level = (levelText ?? '').toLowerCase();
  if (!isTlsLevel(level)) throw new TlsPolicyError(`${spec}: invalid TLS security level "${levelText ?? ''}"`);
  let match: readonly string[] | undefined;
  let protocols: ProtocolRange | undefined;
  for (const a of attrs) {
    const pr = /^protocols=(.*)$/i.exec(a);
    if (pr?.[1]) {
      try {
        protocols = parseProtocols(pr[1], `${spec}: protocols`);
      } catch (e) {
        throw new TlsPolicyError((e as Error).message);
      }
    }
    const m = /^match=(.*)$/i.exec(a);
    if (!m?.[1]) continue;
    if (level === 'fingerprint') match = [...(match ?? []), ...m[1].split('|').filter(Boolean)];
    else match = m[1].split(':').filter(Boolean);
  }
  return { level, match: match ?? defaultMatch(level, s), ...(protocols ? { protocols } : {}) };
}

export function requiresTls(level: TlsLevel): boolean {
  return level !== 'none' && level !== 'may';
}

export function verifiesPeer(level: TlsLevel): boolean {
  return (
    level === 'fingerprint' || level === 'verify' || level === 'secure' || level === 'dane' || level === 'dane-only'
  );
}

/**
 * Protocols and ciphers for a session at this policy's level: opportunistic
 * (`may`) or mandatory settings, a policy's `protocols=` over either, and
 * no anonymous suites where the peer must be authenticated (as Postfix).
 * Throws TlsConfigError for settings that cannot be used.
 */
export function tlsParamsFor(s: ClientSettings, policy: TlsPolicy): TlsParams {
  const base = policy.level === 'may' ? s.tlsOpportunistic : s.tlsMandatory;
  if (base instanceof TlsConfigError) throw base;
  return {
    range: policy.protocols ?? base.range,
    ciphers: verifiesPeer(policy.level) ? base.ciphers.replace(/:?@SECLEVEL=0$/, ':!aNULL:@SECLEVEL=0') : base.ciphers,
  };
}

export function handshakeOptions(s: ClientSettings, policy: TlsPolicy, servername: string): ConnectionOptions {
  const params = tlsParamsFor(s, policy);
  const opts: ConnectionOptions = {
    // The verdict is ours (Postfix logs untrusted peers at may/encrypt and still delivers).
    rejectUnauthorized: false,
    minVersion: params.range.minVersion,
    maxVersion: params.range.maxVersion,
    ciphers: params.ciphers,
    checkServerIdentity: () => undefined,
  };
  if (servername && !/^[\d.]+$/.test(servername) && !servername.includes(':')) opts.servername = servername;
  if (s.tlsCAfile) opts.ca = readFileSync(s.tlsCAfile);
  return opts;
}

export type Trust = 'Anonymous' | 'Untrusted' | 'Trusted' | 'Verified';

export interface PeerVerdict {
  readonly trust: Trust;
  readonly trusted: boolean;
  readonly matched: boolean;
}

/** Names the certificate must match for this policy. */
function matchNames(policy: TlsPolicy, mxHost: string, nexthopDomain: string): { names: string[]; dotNames: string[] } {
  const names: string[] = [];
  const dotNames: string[] = [];
  for (const m of policy.match) {
    const lower = m.toLowerCase();
    if (lower === 'hostname') names.push(mxHost);
    else if (lower === 'nexthop') names.push(nexthopDomain);
    else if (lower === 'dot-nexthop') dotNames.push(nexthopDomain);
    else if (lower.startsWith('.')) dotNames.push(lower.slice(1));
    else names.push(lower);
  }
  return { names, dotNames };
}

function dnsNames(cert: PeerCertificate): string[] {
  const san = cert.subjectaltname ?? '';
  const names = san
    .split(/,\s*/)
    .filter((x) => x.startsWith('DNS:'))
    .map((x) => x.slice(4).toLowerCase());
  const cn = cert.subject?.CN;
  if (names.length === 0 && typeof cn === 'string') names.push(cn.toLowerCase());
  return names;
}

export function judgePeer(sock: TLSSocket, policy: TlsPolicy, mxHost: string, nexthopDomain: string): PeerVerdict {
  const cert = sock.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { trust: 'Anonymous', trusted: false, matched: false };
  const trusted = sock.authorized;
  // Fingerprint patterns are digests, not names.
  const { names, dotNames } =
    policy.level === 'fingerprint' ? { names: [], dotNames: [] } : matchNames(policy, mxHost, nexthopDomain);
  let matched = false;
  for (const n of names) if (checkServerIdentity(n, cert) === undefined) matched = true;
  for (const d of dotNames) if (dnsNames(cert).some((c) => c.endsWith(`.${d}`))) matched = true;
  const verified = trusted && matched && verifiesPeer(policy.level);
  return { trust: verified ? 'Verified' : trusted ? 'Trusted' : 'Untrusted', trusted, matched };
}

/** `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`. */
export function describeTls(sock: TLSSocket): string {
  const c = sock.getCipher();
  const bits = /256/.test(c.name) ? 256 : /128/.test(c.name) ? 128 : /CHACHA20/.test(c.name) ? 256 : 0;
  return `${sock.getProtocol() ?? 'TLS'} with cipher ${c.standardName || c.name} (${bits}/${bits} bits)`;
}

export { DictRetryError };
