// The DNS answers smtpd's access policy asks for (reject_unknown_*,
// reject_rbl_client, check_*_mx_access, permit_mx_backup, ...), through
// Postern's own DNS client (global/dns: the servers in resolv.conf, or a test
// server on loopback), classified as the restrictions expect: found, not
// found (NXDOMAIN or no such record) or a temporary failure. NS lookups,
// which that client does not do, go through node:dns.
import { Resolver } from 'node:dns/promises';
import type * as packet from 'dns-packet';
import { DnsClient, DnsTransportError, RCODE_NOERROR, RCODE_NXDOMAIN } from '../../global/dns/client.js';
import { systemResolverSettings } from '../../global/dns/resolv-conf.js';
import type { DnsAnswer, DnsType, PolicyResolver } from './restrictions/index.js';

const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME', 'NOTFOUND', 'NODATA']);

function text(a: packet.Answer): string | undefined {
  if (a.type !== 'TXT') return undefined;
  const chunks = Array.isArray(a.data) ? a.data : [a.data];
  return chunks.map((c) => (typeof c === 'string' ? c : c.toString('utf8'))).join('');
}

/** A PolicyResolver over a wire DNS client; `client` defaults to the host's resolv.conf servers. */
export function dnsPolicyResolver(client = new DnsClient(systemResolverSettings())): PolicyResolver {
  const ns = new Resolver({ timeout: 10_000, tries: 2 });
  async function nameServers(name: string): Promise<DnsAnswer> {
    try {
      const list = await ns.resolveNs(name);
      return list.length > 0 ? { status: 'ok', records: list } : { status: 'notfound' };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (NOT_FOUND.has(code)) return { status: 'notfound' };
      return { status: 'tempfail', reason: code || (e as Error).message };
    }
  }
  return {
    async query(name: string, type: DnsType): Promise<DnsAnswer> {
      if (type === 'NS') return nameServers(name);
      let res;
      try {
        res = await client.query(name, type);
      } catch (e) {
        if (e instanceof DnsTransportError) return { status: 'tempfail', reason: e.message };
        throw e;
      }
      if (res.rcode === RCODE_NXDOMAIN) return { status: 'notfound' };
      if (res.rcode !== RCODE_NOERROR) return { status: 'tempfail', reason: `rcode ${res.rcode}` };
      if (type === 'MX') {
        const mx = res.answers
          .flatMap((a) => (a.type === 'MX' ? [{ pref: a.data.preference ?? 0, host: a.data.exchange }] : []))
          .sort((a, b) => a.pref - b.pref);
        if (mx.length === 0) return { status: 'notfound' };
        // RFC 7505 null MX is `0 .`; dns-packet reports its exchange as ''.
        return {
          status: 'ok',
          records: mx.map((m) => m.host.replace(/\.$/, '') || '.'),
          preferences: mx.map((m) => m.pref),
        };
      }
      const records = res.answers.flatMap((a): string[] => {
        if (type === 'TXT') return a.type === 'TXT' ? [text(a) ?? ''] : [];
        if (a.type !== type) return [];
        return typeof a.data === 'string' ? [a.data.replace(/\.$/, '')] : [];
      });
      return records.length > 0 ? { status: 'ok', records } : { status: 'notfound' };
    },
  };
}
