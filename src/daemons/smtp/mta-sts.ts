// MTA-STS (RFC 8461) for the smtp(8) client, built in where Postfix needs an
// outside resolver (postfix-mta-sts-resolver behind a socketmap). Enabled by
// naming the pseudo-table `mta-sts:` in smtp_tls_policy_maps (see
// tls-policy.ts), so it sits where Postfix administrators expect policy to
// come from. This file finds a domain's policy: the `_mta-sts.<domain>` TXT
// record, the HTTPS fetch of `https://mta-sts.<domain>/.well-known/mta-sts.txt`
// (PKIX-verified, no redirects, bounded in size and time), parsing, and a
// cache that honours max_age and the TXT id.
// Touches: DNS, outbound HTTPS (port 443).
import { request } from 'node:https';
import { checkServerIdentity } from 'node:tls';
import type { Resolver } from '../../global/dns/lookup.js';

export type StsMode = 'enforce' | 'testing' | 'none';

export interface StsPolicy {
  readonly mode: StsMode;
  /** `mx:` patterns, lower case: `mail.example.com` or `*.example.com` (one label). */
  readonly mx: readonly string[];
  /** Seconds. */
  readonly maxAge: number;
}

/** RFC 8461 section 3.2: max_age is at most 31557600 s (about a year). */
const MAX_AGE_LIMIT = 31557600;
/** Section 3.3 suggests 64 KiB as the largest policy worth reading. */
const MAX_POLICY_BYTES = 64 * 1024;
/** How long a TXT id is trusted before DNS is asked again. */
const TXT_RECHECK_MS = 5 * 60 * 1000;
/** Domains remembered at most (the oldest go first). */
const CACHE_LIMIT = 10000;

export class StsPolicyError extends Error {
  override name = 'StsPolicyError';
}

/** Parse a policy body; throws StsPolicyError for anything RFC 8461 section 3.2 forbids. */
export function parsePolicy(text: string): StsPolicy {
  let version: string | undefined;
  let mode: string | undefined;
  let maxAge: number | undefined;
  const mx: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new StsPolicyError(`malformed policy line "${line.slice(0, 80)}"`);
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'version') version = value;
    else if (key === 'mode') mode = value;
    else if (key === 'max_age') {
      if (!/^\d{1,10}$/.test(value)) throw new StsPolicyError(`invalid max_age "${value}"`);
      maxAge = Math.min(Number(value), MAX_AGE_LIMIT);
    } else if (key === 'mx') {
      if (!/^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i.test(value)) throw new StsPolicyError(`invalid mx "${value}"`);
      mx.push(value.toLowerCase().replace(/\.$/, ''));
    }
    // Unknown keys are ignored (section 3.2: for extensions).
  }
  if (version !== 'STSv1') throw new StsPolicyError('missing or unsupported version');
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') throw new StsPolicyError('missing or invalid mode');
  if (maxAge === undefined) throw new StsPolicyError('missing max_age');
  if (mode !== 'none' && mx.length === 0) throw new StsPolicyError('no mx patterns');
  return { mode, mx, maxAge };
}

/** Section 4.1: a pattern `*.example.com` matches exactly one extra label. */
export function mxMatches(host: string, patterns: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return patterns.some((p) => {
    if (!p.startsWith('*.')) return h === p;
    const suffix = p.slice(1);
    return h.endsWith(suffix) && !h.slice(0, -suffix.length).includes('.') && h.length > suffix.length;
  });
}

/** The `id=` of the one valid `v=STSv1` TXT record, or undefined when there is none (or several). */
export function parseTxt(records: readonly string[]): string | undefined {
  const sts = records.filter((r) => /^v=STSv1\s*(;|$)/.test(r));
  if (sts.length !== 1) return undefined;
  const id = /(?:^|;)\s*id=([A-Za-z0-9]{1,32})\s*(;|$)/.exec(sts[0] ?? '');
  return id?.[1];
}

export interface StsFetchOptions {
  /** Extra trust anchors (PEM) instead of the system store: for tests with their own CA. */
  readonly ca?: string | Buffer;
  /**
   * Test-only: connect here instead of the policy host's port 443. The
   * certificate is still checked against `mta-sts.<domain>`.
   */
  readonly connectTo?: { readonly host: string; readonly port: number };
  readonly timeoutMs?: number;
}

/** Fetch the policy text; throws with the reason on anything but a 200 text/plain answer. */
export function fetchPolicy(domain: string, o: StsFetchOptions = {}): Promise<string> {
  const host = `mta-sts.${domain}`;
  return new Promise<string>((resolve, reject) => {
    const req = request(
      {
        host: o.connectTo?.host ?? host,
        port: o.connectTo?.port ?? 443,
        servername: host,
        path: '/.well-known/mta-sts.txt',
        method: 'GET',
        headers: { host, 'user-agent': 'Postern' },
        rejectUnauthorized: true,
        ...(o.ca ? { ca: o.ca } : {}),
        // The certificate must name the policy host even when the connection goes elsewhere (tests).
        checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert),
        timeout: o.timeoutMs ?? 60000,
        agent: false,
      },
      (res) => {
        // Section 3.3: redirects MUST NOT be followed.
        if (res.statusCode !== 200) {
          res.resume();
          reject(new StsPolicyError(`HTTP status ${res.statusCode ?? 0} from ${host}`));
          return;
        }
        const type = String(res.headers['content-type'] ?? '').toLowerCase();
        if (!type.startsWith('text/plain')) {
          res.resume();
          reject(new StsPolicyError(`wrong media type "${type}" from ${host}`));
          return;
        }
        const parts: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_POLICY_BYTES) {
            req.destroy(new StsPolicyError(`policy from ${host} exceeds ${MAX_POLICY_BYTES} bytes`));
            return;
          }
          parts.push(c);
        });
        res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new StsPolicyError(`timeout fetching the policy from ${host}`)));
    req.on('error', reject);
    req.end();
  });
}

interface Entry {
  readonly id: string;
  readonly policy: StsPolicy;
  readonly expires: number;
  checkedAt: number;
}

export interface MtaStsOptions extends StsFetchOptions {
  readonly resolver: Resolver;
  readonly log: (text: string) => void;
  readonly now?: () => number;
}

/** Policies per domain, fetched on demand and cached in memory (RFC 8461 section 5.1). */
export class MtaSts {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<StsPolicy | undefined>>();

  constructor(private readonly o: MtaStsOptions) {}

  /** The policy in force for a domain, or undefined when it has none (or none could be had). */
  policyFor(domain: string): Promise<StsPolicy | undefined> {
    const d = domain.toLowerCase().replace(/\.$/, '');
    let p = this.inflight.get(d);
    if (!p) {
      p = this.discover(d).finally(() => this.inflight.delete(d));
      this.inflight.set(d, p);
    }
    return p;
  }

  private async discover(domain: string): Promise<StsPolicy | undefined> {
    const now = (this.o.now ?? Date.now)();
    const cached = this.cache.get(domain);
    const fresh = cached && cached.expires > now ? cached : undefined;
    if (fresh && now - fresh.checkedAt < TXT_RECHECK_MS) return fresh.policy;
    const txt = this.o.resolver.txt ? await this.o.resolver.txt(`_mta-sts.${domain}`) : undefined;
    const id = txt?.kind === 'ok' ? parseTxt(txt.records) : undefined;
    // Section 5.1: without a TXT record (or with the same id) a cached policy stays in force until it expires.
    if (fresh && (id === undefined || id === fresh.id)) {
      fresh.checkedAt = now;
      return fresh.policy;
    }
    if (id === undefined) return undefined;
    let policy: StsPolicy;
    try {
      policy = parsePolicy(await fetchPolicy(domain, this.o));
    } catch (e) {
      this.o.log(`MTA-STS policy fetch for ${domain} failed: ${(e as Error).message}`);
      return fresh?.policy;
    }
    if (this.cache.size >= CACHE_LIMIT) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.delete(domain);
    this.cache.set(domain, { id, policy, expires: now + policy.maxAge * 1000, checkedAt: now });
    return policy;
  }
}
