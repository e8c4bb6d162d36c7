// Where an inet service listens (master(8), master.cf(5)): the service name is
// `port`, `host:port` or `[ipv6]:port`; without a host the service listens on
// every address in inet_interfaces, filtered by inet_protocols. Ports may be
// names from /etc/services (`smtp`, `submission`).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ParamReader } from '../../global/params/types.js';

export interface Endpoint {
  /** Address to bind: an IP literal, `::` (all, dual-stack) or `0.0.0.0`. */
  readonly host: string;
  readonly port: number;
  readonly ipv6Only: boolean;
}

export class EndpointError extends Error {
  override name = 'EndpointError';
}

/** Well-known ports used when /etc/services is absent (minimal containers). */
const FALLBACK_PORTS: Readonly<Record<string, number>> = {
  smtp: 25,
  submission: 587,
  submissions: 465,
  smtps: 465,
  lmtp: 24,
  qmqp: 628,
};

let servicesCache: Map<string, number> | undefined;

function servicesTable(): Map<string, number> {
  if (servicesCache) return servicesCache;
  const table = new Map<string, number>();
  try {
    for (const line of readFileSync('/etc/services', 'utf8').split('\n')) {
      const m = /^([A-Za-z0-9][\w.-]*)\s+(\d+)\/tcp\b([^#]*)/.exec(line);
      if (!m) continue;
      const port = Number(m[2]);
      for (const n of [m[1] ?? '', ...(m[3] ?? '').trim().split(/\s+/)]) if (n && !table.has(n)) table.set(n, port);
    }
  } catch {
    // no /etc/services: fall back to the names Postfix's stock master.cf uses
  }
  servicesCache = table;
  return table;
}

export function resolvePort(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n > 0 && n < 65536) return n;
    throw new EndpointError(`bad port number: ${text}`);
  }
  const port = servicesTable().get(text) ?? FALLBACK_PORTS[text];
  if (port === undefined) throw new EndpointError(`unknown service: ${text}/tcp`);
  return port;
}

function protocols(config: ParamReader): { v4: boolean; v6: boolean } {
  const list = config.list('inet_protocols').map((p) => p.toLowerCase());
  if (list.includes('all')) return { v4: true, v6: true };
  const v4 = list.includes('ipv4');
  const v6 = list.includes('ipv6');
  if (!v4 && !v6) throw new EndpointError(`inet_protocols: no known protocol in "${config.get('inet_protocols')}"`);
  return { v4, v6 };
}

/** Addresses for a host part, or for inet_interfaces when the service name has none. */
function hostsFor(host: string | undefined, config: ParamReader): { host: string; ipv6Only: boolean }[] {
  const { v4, v6 } = protocols(config);
  const names = host === undefined ? config.list('inet_interfaces').map((h) => h.toLowerCase()) : [host];
  const out: { host: string; ipv6Only: boolean }[] = [];
  for (const raw of names) {
    const h = raw.replace(/^\[(.*)\]$/, '$1');
    if (h === 'all' || h === '*' || h === '') {
      if (v6) out.push({ host: '::', ipv6Only: !v4 });
      else out.push({ host: '0.0.0.0', ipv6Only: false });
    } else if (h === 'loopback-only' || h === 'localhost') {
      if (v4) out.push({ host: '127.0.0.1', ipv6Only: false });
      if (v6) out.push({ host: '::1', ipv6Only: true });
    } else if (isIP(h) === 4) {
      if (!v4) throw new EndpointError(`${h}: IPv4 address with inet_protocols = ${config.get('inet_protocols')}`);
      out.push({ host: h, ipv6Only: false });
    } else if (isIP(h) === 6) {
      if (!v6) throw new EndpointError(`${h}: IPv6 address with inet_protocols = ${config.get('inet_protocols')}`);
      out.push({ host: h, ipv6Only: true });
    } else {
      throw new EndpointError(`${h}: host names other than localhost are not supported here; use an IP address`);
    }
  }
  return out;
}

/** Endpoints of one inet entry; throws EndpointError with a reason fit for the log. */
export function inetEndpoints(serviceName: string, config: ParamReader): Endpoint[] {
  const m = /^(?:(\[[^\]]*\]|[^:]*):)?([^:]+)$/.exec(serviceName);
  if (!m) throw new EndpointError(`bad inet service name: ${serviceName}`);
  const port = resolvePort(m[2] ?? '');
  return hostsFor(m[1], config).map((h) => ({ ...h, port }));
}

export function endpointKey(e: Endpoint): string {
  return `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}
