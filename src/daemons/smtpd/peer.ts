// The client's name as smtpd(8) reports it: a reverse (PTR) lookup, then a
// forward lookup of that name that must lead back to the address
// ("forward-confirmed"); otherwise the verified name is `unknown`. Like
// Postfix (getnameinfo/getaddrinfo), the system resolver goes through the C
// library, so /etc/hosts and nsswitch.conf apply. The resolver is injectable
// so tests never touch live DNS.
import { lookup, lookupService } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from '../../global/log/logger.js';
import { cachingResolver } from './peer-cache.js';

export interface PeerResolver {
  /** PTR names of an address; throws or returns [] when there are none. */
  reverse(addr: string): Promise<string[]>;
  /** A (IPv4) or AAAA (IPv6) addresses of a name. */
  forward(name: string, family: 4 | 6): Promise<string[]>;
}

export interface PeerNames {
  readonly name: string;
  readonly reverseName: string;
}

const VALID_HOSTNAME =
  /^(?=.{1,255}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/**
 * The C library's resolver (getnameinfo/getaddrinfo, on libuv's thread pool),
 * used when no resolver is injected. Querying DNS servers directly would skip
 * /etc/hosts: a loopback client would then be `unknown`, and each session
 * would wait on the network for names the hosts file already answers.
 */
const SYSTEM: PeerResolver = cachingResolver({
  reverse: async (addr) => {
    const { hostname } = await lookupService(addr, 0);
    return isIP(hostname) ? [] : [hostname];
  },
  forward: async (name, family) => (await lookup(name, { all: true, family })).map((a) => a.address),
});

/** One per process (answers kept briefly, peer-cache.ts), shared by every smtpd service and reload. */
export function systemResolver(): PeerResolver {
  return SYSTEM;
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export async function lookupPeer(resolver: PeerResolver, addr: string, logger: Logger): Promise<PeerNames> {
  const family = isIP(addr) === 6 ? 6 : 4;
  let reverseName: string | undefined;
  try {
    const names = await resolver.reverse(addr);
    reverseName = names.find((n) => VALID_HOSTNAME.test(n));
  } catch {
    reverseName = undefined;
  }
  if (!reverseName) return { name: 'unknown', reverseName: 'unknown' };
  reverseName = reverseName.replace(/\.$/, '').toLowerCase();
  let addrs: string[] = [];
  try {
    addrs = await resolver.forward(reverseName, family);
  } catch {
    logger.warning(`hostname ${reverseName} does not resolve to address ${addr}`);
    return { name: 'unknown', reverseName };
  }
  if (!addrs.some((a) => sameAddress(a, addr))) {
    logger.warning(`hostname ${reverseName} does not resolve to address ${addr}`);
    return { name: 'unknown', reverseName };
  }
  return { name: reverseName, reverseName };
}
