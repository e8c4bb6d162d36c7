// The "resolve" half of trivial-rewrite(8): decide an address's class
// (local, virtual alias, virtual mailbox, relay, default), its delivery
// transport and next hop, honouring transport_maps, relayhost and the
// sender-dependent maps — the rules of ADDRESS_CLASS_README and transport(5).
import { DictRetryError } from '../../global/dict/dict-api.js';
import {
  isAddressLiteral,
  isNumericDomain,
  isValidHostname,
  joinAddress,
  literalAddress,
  splitAddress,
  stripExtension,
} from './address.js';
import type { DomainList, LazyDicts } from './domain-list.js';
import { rewriteAddress, type RewriteSettings } from './rewrite.js';
import { parseTransportSpec, type TransportTable } from './transport-table.js';
import type { Dict } from '../../global/dict/dict-api.js';

export type AddressClass = 'local' | 'alias' | 'virtual' | 'relay' | 'default';

export interface ResolveFlags {
  readonly class: AddressClass;
  /** The class delivers to a final destination here (local, virtual alias, virtual mailbox). */
  readonly final: boolean;
  /** A remote address whose local part still routes (`a%b@remote`, `a!b@remote`, `a@b@remote`). */
  readonly routed: boolean;
  /** Malformed: bad domain syntax, bare numeric domain, null domain. */
  readonly error: boolean;
  /** A lookup table failed temporarily: the caller must defer (4.3.0), not use the result. */
  readonly fail: boolean;
}

export interface ResolveResult {
  /** master.cf service name, e.g. `smtp`, `local`, `error`, `discard`. */
  readonly transport: string;
  /** Next hop; for `error`/`discard` it is the reason text. */
  readonly nexthop: string;
  /** The recipient after canonicalisation (and after stripping routing through local domains). */
  readonly recipient: string;
  readonly flags: ResolveFlags;
}

export interface ResolveSettings {
  readonly rewrite: RewriteSettings;
  readonly myhostname: string;
  readonly emptyAddressRecipient: string;
  readonly resolveDequoted: boolean;
  readonly resolveNullDomain: boolean;
  readonly resolveNumericDomain: boolean;
  readonly localTransport: string;
  readonly virtualTransport: string;
  readonly relayTransport: string;
  readonly defaultTransport: string;
  readonly relayhost: string;
  readonly showUnknownTable: boolean;
  readonly emptySenderTransportKey: string;
  readonly emptySenderRelayhostKey: string;
  readonly delimiters: string;
  readonly interfaces: ReadonlySet<string>;
  readonly mydestination: DomainList;
  readonly virtualAliasDomains: DomainList;
  readonly virtualMailboxDomains: DomainList;
  readonly relayDomains: DomainList;
  readonly transportMaps: TransportTable;
  readonly senderRelayhost: LazyDicts;
  readonly senderTransport: LazyDicts;
}

/** Bound on local-domain stripping rounds (`a%b%c@here` style loops). */
const MAX_ROUTE_ROUNDS = 20;

export async function resolveAddress(addrIn: string, sender: string, s: ResolveSettings): Promise<ResolveResult> {
  try {
    return await resolveInner(addrIn, sender, s);
  } catch (e) {
    if (!(e instanceof DictRetryError)) throw e;
    return {
      transport: s.defaultTransport,
      nexthop: '',
      recipient: addrIn,
      flags: { class: 'default', final: false, routed: false, error: false, fail: true },
    };
  }
}

async function resolveInner(addrIn: string, sender: string, s: ResolveSettings): Promise<ResolveResult> {
  // An empty recipient means the local mailer daemon: $empty_address_recipient@$myhostname (transport(5)).
  const input =
    addrIn === '' && !s.emptyAddressRecipient.includes('@') ? `${s.emptyAddressRecipient}@${s.myhostname}` : addrIn;
  let addr = rewriteAddress(input === '' ? s.emptyAddressRecipient : input, s.rewrite, 'local');
  let error = false;
  let localStripped: string | undefined;

  // Strip our own domains off the right, and re-resolve what routing is left in the local part.
  for (let round = 0; round < MAX_ROUTE_ROUNDS; round++) {
    const { local, domain } = splitAddress(addr);
    if (domain === undefined) break;
    const dom = domain.replace(/\.+$/, '');
    if (dom === '') {
      if (!s.resolveNullDomain) error = true;
      addr = joinAddress(local, dom);
      break;
    }
    if (!(await isLocalDomain(dom, s))) {
      addr = joinAddress(local, dom);
      break;
    }
    localStripped ??= dom;
    const next = rerouteLocalPart(local, s);
    if (next === undefined) {
      addr = joinAddress(local, dom);
      break;
    }
    addr = next;
  }

  const parts = splitAddress(addr);
  const local = parts.local;
  let domain = parts.domain;
  if (domain === undefined) {
    // No domain at all (append_at_myorigin = no): the mail is for this machine.
    domain = localStripped ?? s.myhostname;
    addr = joinAddress(local, domain);
  }
  const lcDomain = domain.toLowerCase();

  if (lcDomain && !isAddressLiteral(lcDomain)) {
    if (!isValidHostname(lcDomain)) error = true;
    else if (!s.resolveNumericDomain && isNumericDomain(lcDomain)) error = true;
  }

  let cls: AddressClass;
  let transport: string;
  let nexthop: string;
  if (await isLocalDomain(lcDomain, s)) {
    cls = 'local';
    ({ transport, nexthop } = withDefaultNexthop(s.localTransport, s.myhostname));
  } else if (await s.virtualAliasDomains.matches(lcDomain)) {
    cls = 'alias';
    transport = 'error';
    nexthop = `5.1.1 User unknown${s.showUnknownTable ? ' in virtual alias table' : ''}`;
  } else if (await s.virtualMailboxDomains.matches(lcDomain)) {
    cls = 'virtual';
    ({ transport, nexthop } = withDefaultNexthop(s.virtualTransport, lcDomain));
  } else {
    cls = (await s.relayDomains.matches(lcDomain)) ? 'relay' : 'default';
    let spec = cls === 'relay' ? s.relayTransport : s.defaultTransport;
    if (cls === 'default')
      spec = (await senderLookup(s.senderTransport, sender, s.emptySenderTransportKey, s.delimiters)) ?? spec;
    const relayhost =
      (await senderLookup(s.senderRelayhost, sender, s.emptySenderRelayhostKey, s.delimiters)) ?? s.relayhost;
    const parsed = parseTransportSpec(spec);
    transport = parsed.transport;
    nexthop = parsed.nexthop || relayhost || lcDomain;
  }

  // transport(5): a null field means "keep"; a transport with a null next hop resets it to the domain.
  const entry = await s.transportMaps.find(local, lcDomain);
  if (entry && cls !== 'alias') {
    if (entry.transport) {
      transport = entry.transport;
      nexthop = entry.nexthop || lcDomain;
    } else if (entry.nexthop) nexthop = entry.nexthop;
  }

  const routed = cls !== 'local' && /[@%!]/.test(local);
  const final = cls === 'local' || cls === 'alias' || cls === 'virtual';
  return {
    transport,
    nexthop,
    recipient: addr,
    flags: { class: cls, final, routed, error, fail: false },
  };
}

export async function isLocalDomain(domain: string, s: ResolveSettings): Promise<boolean> {
  if (isAddressLiteral(domain)) return s.interfaces.has(literalAddress(domain).toLowerCase());
  return s.mydestination.matches(domain);
}

/** After stripping a local domain: `user@remote`, `user%remote` or `remote!user` routes further. */
function rerouteLocalPart(local: string, s: ResolveSettings): string | undefined {
  if (s.resolveDequoted && local.includes('@')) return local;
  if (s.rewrite.percentHack && local.includes('%')) {
    const i = local.lastIndexOf('%');
    if (i > 0 && i < local.length - 1) return `${local.slice(0, i)}@${local.slice(i + 1)}`;
  }
  if (s.rewrite.swapBangpath && local.includes('!')) {
    const i = local.indexOf('!');
    if (i > 0 && i < local.length - 1) return `${local.slice(i + 1)}@${local.slice(0, i)}`;
  }
  return undefined;
}

/** `local:$myhostname` style settings: a missing next hop falls back to `fallback`. */
function withDefaultNexthop(spec: string, fallback: string): { transport: string; nexthop: string } {
  const p = parseTransportSpec(spec);
  return { transport: p.transport, nexthop: p.nexthop || fallback };
}

/** sender_dependent_*_maps: search the sender, the sender without extension, then `@domain`. */
async function senderLookup(
  tables: LazyDicts,
  sender: string,
  emptyKey: string,
  delimiters: string,
): Promise<string | undefined> {
  if (tables.specs.length === 0) return undefined;
  const keys: string[] = [];
  if (sender === '') keys.push(emptyKey);
  else {
    const lc = sender.toLowerCase();
    keys.push(lc);
    const { local, domain } = splitAddress(lc);
    if (domain !== undefined) {
      const bare = stripExtension(local, delimiters);
      if (bare !== undefined) keys.push(`${bare}@${domain}`);
      keys.push(`@${domain}`);
    }
  }
  const opened: Dict[] = await tables.get();
  for (const key of keys) {
    for (const d of opened) {
      const v = await d.lookup(key);
      if (v !== undefined && v.trim() !== '') return v.trim();
    }
  }
  return undefined;
}
