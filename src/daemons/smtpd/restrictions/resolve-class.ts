// The part of trivial-rewrite(8)'s resolve step that smtpd's relay decision
// needs (ADDRESS_CLASS_README, postconf(5) allow_percent_hack, swap_bangpath,
// resolve_dequoted_address, allow_untrusted_routing): strip source routes,
// peel off our own domains so that `user%remote@ours`, `remote!user@ours` and
// `"user@remote"@ours` are judged by where they really go, then classify the
// final domain as local, virtual alias, virtual mailbox, relay or default.
import { networkInterfaces } from 'node:os';
import { addressLiteral, splitAddress, stripSourceRoute, unquoteLocalPart } from '../../../global/addr/address.js';
import { parseIp, type IpAddress } from '../../../global/match/ip.js';
import type { MatchList } from '../../../global/match/match-list.js';
import type { ParamReader } from '../../../global/params/types.js';

export type AddressClass = 'local' | 'virtual-alias' | 'virtual-mailbox' | 'relay' | 'default';

export interface ResolvedAddress {
  /** Final local part (internal form) and domain (lower case, no trailing dot). */
  readonly local: string;
  readonly domain: string;
  readonly cls: AddressClass;
  /** The local part still carries routing operators (`@`, `%`, `!`) for a remote site. */
  readonly routed: boolean;
}

export interface DomainLists {
  readonly mydestination: MatchList;
  readonly relayDomains: MatchList;
  readonly virtualAliasDomains: MatchList;
  readonly virtualMailboxDomains: MatchList;
}

/** Enough rounds for any honest address; a hostile one stops here rather than loop. */
const MAX_ROUNDS = 20;

export class AddressResolver {
  private readonly ours: IpAddress[];

  constructor(
    private readonly config: ParamReader,
    private readonly lists: DomainLists,
    localAddresses: readonly string[] | undefined,
  ) {
    this.ours = interfaceAddresses(config, localAddresses);
  }

  /** Whether a domain (or `[address literal]`) is delivered by this host (mydestination, our interfaces). */
  async isLocalDomain(domain: string): Promise<boolean> {
    const lit = addressLiteral(domain);
    if (lit !== undefined) {
      const ip = parseIp(lit);
      return ip !== undefined && this.ours.some((o) => o.family === ip.family && o.value === ip.value);
    }
    return this.lists.mydestination.matchHost(domain);
  }

  /** Whether an IP address is one of ours (inet_interfaces, proxy_interfaces). */
  isOwnAddress(addr: string): boolean {
    const ip = parseIp(addr);
    return ip !== undefined && this.ours.some((o) => o.family === ip.family && o.value === ip.value);
  }

  async classify(domain: string): Promise<AddressClass> {
    if (await this.isLocalDomain(domain)) return 'local';
    if (addressLiteral(domain) !== undefined) return 'default';
    if (await this.lists.virtualAliasDomains.matchHost(domain)) return 'virtual-alias';
    if (await this.lists.virtualMailboxDomains.matchHost(domain)) return 'virtual-mailbox';
    if (await this.lists.relayDomains.matchHost(domain)) return 'relay';
    return 'default';
  }

  async resolve(address: string): Promise<ResolvedAddress> {
    const percent = this.config.bool('allow_percent_hack');
    const bang = this.config.bool('swap_bangpath');
    const dequote = this.config.bool('resolve_dequoted_address');
    let addr = stripSourceRoute(address);
    if (dequote) {
      // Quoted `@`, `%` and `!` become routing operators, exactly as Postfix sees them.
      const s = splitAddress(addr);
      addr = s.hasAt ? `${unquoteLocalPart(s.local)}@${s.domain}` : unquoteLocalPart(s.local);
    }
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const at = dequote ? addr.lastIndexOf('@') : quotedAwareLastAt(addr);
      if (at >= 0) {
        const local = addr.slice(0, at);
        const domain = addr
          .slice(at + 1)
          .replace(/\.+$/, '')
          .toLowerCase();
        if (domain === '') {
          addr = local;
          continue;
        }
        const routing = hasRouting(local, percent, bang, dequote);
        if (routing && (await this.isLocalDomain(domain))) {
          // Our own domain with a routed local part: look at where it really goes.
          addr = local;
          continue;
        }
        return { local: unquoteLocalPart(local), domain, cls: await this.classify(domain), routed: routing };
      }
      if (bang && !isQuoted(addr) && addr.includes('!')) {
        const i = addr.indexOf('!');
        addr = `${addr.slice(i + 1)}@${addr.slice(0, i)}`;
        continue;
      }
      if (percent && !isQuoted(addr) && addr.includes('%')) {
        const i = addr.lastIndexOf('%');
        addr = `${addr.slice(0, i)}@${addr.slice(i + 1)}`;
        continue;
      }
      // No domain left: the address is local to $myorigin (append_at_myorigin) or this host.
      const origin = this.config.get('myorigin').toLowerCase();
      const cls = (await this.isLocalDomain(origin)) ? 'local' : await this.classify(origin);
      return { local: unquoteLocalPart(addr), domain: origin, cls, routed: false };
    }
    return { local: addr, domain: '', cls: 'default', routed: true };
  }
}

function hasRouting(local: string, percent: boolean, bang: boolean, dequoted: boolean): boolean {
  const text = dequoted ? local : local.replace(/"(?:[^"\\]|\\.)*"/g, '');
  return text.includes('@') || (percent && text.includes('%')) || (bang && text.includes('!'));
}

function isQuoted(s: string): boolean {
  return s.startsWith('"');
}

function quotedAwareLastAt(addr: string): number {
  const s = splitAddress(addr);
  return s.hasAt ? s.local.length : -1;
}

/** inet_interfaces and proxy_interfaces as addresses; `all` means every interface of this host. */
function interfaceAddresses(config: ParamReader, given: readonly string[] | undefined): IpAddress[] {
  const all = given ?? Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
  const out: IpAddress[] = [];
  const items = [...config.list('inet_interfaces'), ...config.list('proxy_interfaces')];
  for (const item of items) {
    const lower = item.toLowerCase();
    const texts = lower === 'all' ? all : lower === 'loopback-only' ? ['127.0.0.1', '::1'] : [item];
    for (const t of texts) {
      const ip = parseIp(t);
      if (ip) out.push(ip);
    }
  }
  return out;
}
