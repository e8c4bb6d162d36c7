// Typed DNS lookups with Postfix's classification of outcomes: found, no such
// record (NODATA), no such name (NXDOMAIN) and "try again" (SERVFAIL,
// timeouts). The texts are the ones Postfix puts in delivery status reasons:
// `Name service error for name=... type=...: Host not found, try again`.
import { lookup as nativeLookup } from 'node:dns/promises';
import type * as packet from 'dns-packet';
import { DnsClient, DnsTransportError, RCODE_NOERROR, RCODE_NXDOMAIN, type RecordType } from './client.js';
import { systemResolverSettings } from './resolv-conf.js';

export interface MxRecord {
  readonly preference: number;
  readonly exchange: string;
}

export interface TlsaRecord {
  readonly usage: number;
  readonly selector: number;
  readonly matchingType: number;
  readonly data: Buffer;
}

export type LookupResult<T> =
  | { readonly kind: 'ok'; readonly records: readonly T[]; readonly authentic: boolean }
  | { readonly kind: 'nodata' | 'nxdomain' | 'tempfail'; readonly text: string };

/** The resolver's wording for each failure (Postfix's dns_lookup texts). */
const TEXT = {
  nxdomain: 'Host not found',
  nodata: 'Host found but no data record of requested type',
  tempfail: 'Host not found, try again',
} as const;

/** `Name service error for name=example.com type=MX: Host not found`. */
export function nameServiceError(name: string, type: string, r: { text: string }): string {
  return `Name service error for name=${name} type=${type}: ${r.text}`;
}

export interface Resolver {
  mx(name: string, dnssec?: boolean): Promise<LookupResult<MxRecord>>;
  /** IPv4 or IPv6 addresses of a host name. */
  addresses(name: string, type: 'A' | 'AAAA', dnssec?: boolean): Promise<LookupResult<string>>;
  tlsa(name: string): Promise<LookupResult<TlsaRecord>>;
  /** TXT records, each one's strings joined (RFC 7208 section 3.3 style); optional for test doubles. */
  txt?(name: string): Promise<LookupResult<string>>;
}

/** Lookups through Postern's own wire client (the default, and the only one that can see DNSSEC). */
export class DnsResolver implements Resolver {
  constructor(private readonly client: DnsClient = new DnsClient(systemResolverSettings())) {}

  async mx(name: string, dnssec = false): Promise<LookupResult<MxRecord>> {
    return this.run(name, 'MX', dnssec, (a) =>
      a.type === 'MX'
        ? { preference: a.data.preference ?? 0, exchange: a.data.exchange.replace(/\.$/, '') }
        : undefined,
    );
  }

  async addresses(name: string, type: 'A' | 'AAAA', dnssec = false): Promise<LookupResult<string>> {
    return this.run(name, type, dnssec, (a) => (a.type === type ? a.data : undefined));
  }

  async tlsa(name: string): Promise<LookupResult<TlsaRecord>> {
    return this.run(name, 'TLSA', true, (a) =>
      a.type === 'TLSA'
        ? {
            usage: a.data.usage,
            selector: a.data.selector,
            matchingType: a.data.matchingType,
            data: a.data.certificate,
          }
        : undefined,
    );
  }

  async txt(name: string): Promise<LookupResult<string>> {
    return this.run(name, 'TXT', false, (a) => {
      if (a.type !== 'TXT') return undefined;
      const parts: unknown[] = Array.isArray(a.data) ? a.data : [a.data];
      return parts.map((p) => (Buffer.isBuffer(p) ? p.toString('latin1') : String(p))).join('');
    });
  }

  private async run<T>(
    name: string,
    type: RecordType,
    dnssec: boolean,
    pick: (a: packet.Answer) => T | undefined,
  ): Promise<LookupResult<T>> {
    let res;
    try {
      res = await this.client.query(name, type, dnssec);
    } catch (e) {
      if (e instanceof DnsTransportError) return { kind: 'tempfail', text: TEXT.tempfail };
      throw e;
    }
    if (res.rcode === RCODE_NXDOMAIN) return { kind: 'nxdomain', text: TEXT.nxdomain };
    if (res.rcode !== RCODE_NOERROR) return { kind: 'tempfail', text: TEXT.tempfail };
    // CNAME chains come back in the same answer section; only the wanted type counts.
    const records = res.answers.map(pick).filter((r): r is T => r !== undefined);
    if (records.length === 0) return { kind: 'nodata', text: TEXT.nodata };
    return { kind: 'ok', records, authentic: res.ad };
  }
}

/** getaddrinfo (/etc/hosts, nsswitch): `smtp_host_lookup = native`. */
export async function nativeAddresses(name: string, family: 4 | 6): Promise<LookupResult<string>> {
  try {
    const list = await nativeLookup(name, { all: true, family });
    if (list.length === 0) return { kind: 'nodata', text: TEXT.nodata };
    return { kind: 'ok', records: list.map((a) => a.address), authentic: false };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND') return { kind: 'nxdomain', text: TEXT.nxdomain };
    if (code === 'ENODATA') return { kind: 'nodata', text: TEXT.nodata };
    return { kind: 'tempfail', text: TEXT.tempfail };
  }
}
