// The DNS answers smtpd's access policy asks for (reject_unknown_*,
// reject_rbl_client, check_*_mx_access, ...), from the host's resolver
// through node:dns, classified as the restrictions expect: found, not found
// (NXDOMAIN or no such record) or a temporary failure.
import { Resolver } from 'node:dns/promises';
import type { DnsAnswer, DnsType, PolicyResolver } from './restrictions/index.js';

const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME', 'NOTFOUND', 'NODATA']);

export function dnsPolicyResolver(timeoutMs = 10_000): PolicyResolver {
  const r = new Resolver({ timeout: timeoutMs, tries: 2 });
  const records = async (name: string, type: DnsType): Promise<string[]> => {
    switch (type) {
      case 'A':
        return r.resolve4(name);
      case 'AAAA':
        return r.resolve6(name);
      case 'NS':
        return r.resolveNs(name);
      case 'PTR':
        return r.resolvePtr(name);
      case 'TXT':
        return (await r.resolveTxt(name)).map((chunks) => chunks.join(''));
      case 'MX':
        // RFC 7505 null MX is `0 .`; node reports its exchange as ''.
        return (await r.resolveMx(name)).sort((a, b) => a.priority - b.priority).map((m) => m.exchange || '.');
    }
  };
  return {
    async query(name: string, type: DnsType): Promise<DnsAnswer> {
      try {
        const list = await records(name, type);
        return list.length > 0 ? { status: 'ok', records: list } : { status: 'notfound' };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? '';
        if (NOT_FOUND.has(code)) return { status: 'notfound' };
        return { status: 'tempfail', reason: code || (e as Error).message };
      }
    },
  };
}
