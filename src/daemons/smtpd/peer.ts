// The client's name as smtpd(8) reports it: a reverse (PTR) lookup, then a
// forward lookup of that name that must lead back to the address
// ("forward-confirmed"); otherwise the verified name is `unknown`. The
// resolver is injectable so tests never touch live DNS.
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from '../../global/log/logger.js';

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

/** node:dns with a per-query timeout, used when no resolver is injected. */
export function systemResolver(timeoutMs = 10_000): PeerResolver {
  const r = new Resolver({ timeout: timeoutMs, tries: 2 });
  return {
    reverse: (addr) => r.reverse(addr),
    forward: (name, family) => (family === 4 ? r.resolve4(name) : r.resolve6(name)),
  };
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
