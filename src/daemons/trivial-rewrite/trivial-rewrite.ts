// trivial-rewrite(8) as a service module: `createRewriter({config, openDict})`
// gives cleanup its `rewrite` (canonical form) and qmgr/smtpd their `resolve`
// (address class, transport, next hop). Lookup tables open lazily on first use.
// `resolve(addr, sender, 'verify')` is Postfix's resolve_verify: the same
// classes, with the address_verify_* transports, relayhost and maps, for
// verify(8)'s probes (ADDRESS_VERIFICATION_README, "Controlling the routing").
import type { ParamReader } from '../../global/params/types.js';
import { DomainList, LazyDicts, type OpenDict } from './domain-list.js';
import { localInterfaceAddresses } from './interfaces.js';
import { isLocalDomain, resolveAddress, type ResolveResult, type ResolveSettings } from './resolve.js';
import { rewriteAddress, rewriteSettings, type RewriteContext } from './rewrite.js';
import { TransportTable } from './transport-table.js';

export type { ResolveResult, ResolveFlags, AddressClass } from './resolve.js';
export type { RewriteContext } from './rewrite.js';

export interface RewriterOptions {
  readonly config: ParamReader;
  readonly openDict: OpenDict;
  /** The machine's addresses for `[literal]` domains; defaults to inet_interfaces/proxy_interfaces. */
  readonly interfaceAddresses?: ReadonlySet<string>;
}

/** `normal` mail, or a `verify` probe routed by the address_verify_* overrides. */
export type ResolveMode = 'normal' | 'verify';

export interface Rewriter {
  rewrite(addr: string, context?: RewriteContext): string;
  resolve(addr: string, sender: string, mode?: ResolveMode): Promise<ResolveResult>;
  /** `$mydestination` or one of our interface literals (`[192.0.2.1]`). */
  isLocalDomain(domain: string): Promise<boolean>;
}

export function createRewriter(opts: RewriterOptions): Rewriter {
  const { config, openDict } = opts;
  const parent = config.list('parent_domain_matches_subdomains');
  const list = (name: string): DomainList => new DomainList(name, config.get(name), parent.includes(name), openDict);
  const rw = rewriteSettings(config);
  const transportMaps = (name: string): TransportTable =>
    new TransportTable(
      config.list(name),
      config.get('recipient_delimiter'),
      parent.includes('transport_maps'),
      openDict,
    );
  const settings: ResolveSettings = {
    rewrite: rw,
    myhostname: config.get('myhostname'),
    emptyAddressRecipient: config.get('empty_address_recipient'),
    resolveDequoted: config.bool('resolve_dequoted_address'),
    resolveNullDomain: config.bool('resolve_null_domain'),
    resolveNumericDomain: config.bool('resolve_numeric_domain'),
    localTransport: config.get('local_transport'),
    virtualTransport: config.get('virtual_transport'),
    relayTransport: config.get('relay_transport'),
    defaultTransport: config.get('default_transport'),
    // Postfix 3.5+: several destinations, separated by comma or whitespace; the smtp client splits them.
    relayhost: config.list('relayhost').join(', '),
    showUnknownTable: config.bool('show_user_unknown_table_name'),
    emptySenderTransportKey: config.get('empty_address_default_transport_maps_lookup_key'),
    emptySenderRelayhostKey: config.get('empty_address_relayhost_maps_lookup_key'),
    delimiters: config.get('recipient_delimiter'),
    interfaces: opts.interfaceAddresses ?? localInterfaceAddresses(config),
    mydestination: list('mydestination'),
    virtualAliasDomains: list('virtual_alias_domains'),
    virtualMailboxDomains: list('virtual_mailbox_domains'),
    relayDomains: list('relay_domains'),
    transportMaps: transportMaps('transport_maps'),
    senderRelayhost: new LazyDicts(config.list('sender_dependent_relayhost_maps'), openDict),
    senderTransport: new LazyDicts(config.list('sender_dependent_default_transport_maps'), openDict),
  };
  // Built on the first probe: most configurations never verify an address.
  let verifySettings: ResolveSettings | undefined;
  const forVerify = (): ResolveSettings =>
    (verifySettings ??= {
      ...settings,
      localTransport: config.get('address_verify_local_transport'),
      virtualTransport: config.get('address_verify_virtual_transport'),
      relayTransport: config.get('address_verify_relay_transport'),
      defaultTransport: config.get('address_verify_default_transport'),
      relayhost: config.list('address_verify_relayhost').join(', '),
      transportMaps: transportMaps('address_verify_transport_maps'),
      senderRelayhost: new LazyDicts(config.list('address_verify_sender_dependent_relayhost_maps'), openDict),
      senderTransport: new LazyDicts(config.list('address_verify_sender_dependent_default_transport_maps'), openDict),
    });
  // Like Postfix's resolve client, the last question and its answer are kept:
  // the same recipient is often resolved many times in a row (one list's
  // messages, each qmgr round). Briefly, so that a changed table shows soon,
  // and never a temporary failure.
  let last: LastResolve | undefined;
  return {
    rewrite: (addr, context = 'local') => rewriteAddress(addr, rw, context),
    resolve: (addr, sender, mode = 'normal') => {
      const now = Date.now();
      const l = last;
      if (l !== undefined && l.addr === addr && l.sender === sender && l.mode === mode && now < l.until) {
        return l.answer;
      }
      const answer = resolveAddress(addr, sender, mode === 'verify' ? forVerify() : settings);
      const entry: LastResolve = { addr, sender, mode, until: now + RESOLVE_MEMO_MS, answer };
      last = entry;
      const forget = (): void => {
        if (last === entry) last = undefined;
      };
      answer.then((r) => r.flags.fail && forget(), forget);
      return answer;
    },
    isLocalDomain: (domain) => isLocalDomain(domain, settings),
  };
}

/** How long the last resolve answer is reused. */
const RESOLVE_MEMO_MS = 1000;

interface LastResolve {
  readonly addr: string;
  readonly sender: string;
  readonly mode: ResolveMode;
  readonly until: number;
  readonly answer: Promise<ResolveResult>;
}
