// Which name servers to ask: /etc/resolv.conf's `nameserver` lines and its
// `options timeout:N attempts:N`, read the way the C resolver reads them, so
// Postern's own DNS client (src/global/dns/client.ts) follows the host's
// resolver setup without going through getaddrinfo (which cannot report the
// DNSSEC AD bit or TLSA records).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export interface NameServer {
  readonly host: string;
  readonly port: number;
}

export interface ResolverSettings {
  readonly servers: readonly NameServer[];
  /** Per-try timeout in milliseconds. */
  readonly timeoutMs: number;
  /** Tries per server before giving up. */
  readonly attempts: number;
}

/** The C resolver's own limits: at most 3 servers, 5 s timeout, 2 attempts. */
const MAX_SERVERS = 3;
export const DEFAULT_SETTINGS: ResolverSettings = {
  servers: [{ host: '127.0.0.1', port: 53 }],
  timeoutMs: 5000,
  attempts: 2,
};

export function parseResolvConf(text: string): ResolverSettings {
  const servers: NameServer[] = [];
  let timeoutMs = DEFAULT_SETTINGS.timeoutMs;
  let attempts = DEFAULT_SETTINGS.attempts;
  for (const raw of text.split('\n').slice(0, 1000)) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0] && servers.length < MAX_SERVERS) {
      // An IPv6 link-local server may carry a %scope; keep it, net accepts it.
      const host = rest[0];
      if (isIP(host.replace(/%.*$/, ''))) servers.push({ host, port: 53 });
    } else if (key === 'options') {
      for (const opt of rest) {
        const m = /^(timeout|attempts):(\d+)$/.exec(opt);
        if (!m?.[2]) continue;
        const n = Math.min(30, Math.max(1, Number.parseInt(m[2], 10)));
        if (m[1] === 'timeout') timeoutMs = n * 1000;
        else attempts = Math.min(5, n);
      }
    }
  }
  return { servers: servers.length ? servers : DEFAULT_SETTINGS.servers, timeoutMs, attempts };
}

/** The host's resolver settings; a missing file means the local server, as in libc. */
export function systemResolverSettings(file = '/etc/resolv.conf'): ResolverSettings {
  try {
    return parseResolvConf(readFileSync(file, 'utf8'));
  } catch {
    return DEFAULT_SETTINGS;
  }
}
