// The smtp(8) / lmtp(8) delivery agent: qmgr hands it one message and the
// recipients for one next hop; it finds the servers (resolve.ts), opens
// sessions in order (session.ts), runs transactions (transaction.ts) and
// reports one outcome per recipient with Postfix's dsn, relay= and reason.
// Network-facing; runs in the unprivileged core process. A per-recipient 4xx
// or a failed server moves the recipient to the next server; what is still
// undelivered after the last one is deferred with the last reason.
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { DictRetryError } from '../../global/dict/dict-api.js';
import { DnsResolver, type Resolver } from '../../global/dns/lookup.js';
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type {
  DeliveryAgent,
  DeliveryRecipient,
  DeliveryRequest,
  RecipientOutcome,
} from '../../global/queue/delivery-api.js';
import { ConnectionCache } from './conn-cache.js';
import { daneForCandidate } from './dane.js';
import { LocalDomains } from './addr-keys.js';
import { GenericMapper } from './generic.js';
import { findCredentials, readSaslSettings, type SaslSettings } from './sasl.js';
import { parseNexthop, type Destination } from './nexthop.js';
import { resolveDestination, type Candidate, type RouteFailure } from './resolve.js';
import { openSession, SessionAbort, type Session, type SessionFailure } from './session.js';
import { readSettings, type ClientSettings, type Protocol } from './settings.js';
import {
  fixedTlsPolicy,
  isMtaStsSpec,
  tlsParamsFor,
  tlsPolicyFor,
  TlsPolicyError,
  type OpenDict,
  type TlsPolicy,
} from './tls-policy.js';
import { MtaSts, mxMatches } from './mta-sts.js';
import { TlsConfigError } from '../../global/tls/protocols.js';
import { runTransaction } from './transaction.js';

export interface SmtpAgentOptions {
  /** Effective configuration for this transport (main.cf plus master.cf -o). */
  readonly config: ParamReader;
  /** `smtp` or `lmtp`: picks the parameter prefix and the protocol. */
  readonly protocol?: Protocol;
  readonly log: Logger;
  readonly resolver?: Resolver;
  /** Opens `type:name` tables for smtp_tls_policy_maps and smtp_sasl_password_maps (the dict area provides it). */
  readonly openDict?: OpenDict;
  /** The MTA-STS resolver (tests give one that trusts their CA); default: built when smtp_tls_policy_maps names `mta-sts:`. */
  readonly mtaSts?: MtaSts;
  /** Addresses of this host, for MX loop detection; default from inet_interfaces/proxy_interfaces. */
  readonly ownAddresses?: ReadonlySet<string>;
}

interface Pending {
  readonly rcpt: DeliveryRecipient;
  /** Why the last try failed temporarily, kept in case no later server does better. */
  last?: { dsn: string; reason: string; relay: string; remoteReply?: string };
}

const NO_RELAY = 'none';
const DESTINATION_MEMO_LIMIT = 1000;

export class SmtpAgent implements DeliveryAgent {
  readonly command: string;
  private readonly protocol: Protocol;
  private readonly resolver: Resolver;
  private readonly cache = new ConnectionCache();
  private readonly own: ReadonlySet<string>;
  private readonly generic: GenericMapper;
  private readonly localDomains: LocalDomains | undefined;
  /** Read at the first delivery; a reload builds a new agent, so they never go stale. */
  private settings: ClientSettings | undefined;
  private sasl: SaslSettings | undefined;
  private cacheDests: ReadonlySet<string> | undefined;
  /** Parsed next hops (a pure function of the text and the settings), bounded. */
  private readonly destinations = new Map<string, Destination>();
  private sts: MtaSts | undefined;

  constructor(private readonly o: SmtpAgentOptions) {
    this.protocol = o.protocol ?? 'smtp';
    this.command = this.protocol;
    this.resolver = o.resolver ?? new DnsResolver();
    this.own = o.ownAddresses ?? ownAddresses(o.config);
    this.generic = new GenericMapper(o.config, this.protocol, o.openDict, o.log);
    this.localDomains = o.openDict ? new LocalDomains(o.config, o.openDict) : undefined;
  }

  async close(): Promise<void> {
    await this.cache.closeAll(5);
  }

  /** Never throws: anything unexpected defers the whole request (the queue keeps the mail). */
  async deliver(req: DeliveryRequest): Promise<RecipientOutcome[]> {
    try {
      return await this.attempt(req);
    } catch (e) {
      this.o.log.warning(`${req.queueId}: ${this.protocol} delivery to ${req.nexthop} failed: ${(e as Error).message}`);
      return req.recipients.map((r) => ({
        index: r.index,
        status: 'deferred',
        dsn: '4.3.0',
        relay: NO_RELAY,
        reason: 'mail transport unavailable',
      }));
    }
  }

  private async attempt(queued: DeliveryRequest): Promise<RecipientOutcome[]> {
    let req = queued;
    const s = (this.settings ??= readSettings(this.o.config, this.protocol));
    const sasl = (this.sasl ??= readSaslSettings(this.o.config, this.protocol));
    const outcomes = new Map<number, RecipientOutcome>();
    const pending: Pending[] = req.recipients.map((rcpt) => ({ rcpt }));
    const finish = (): RecipientOutcome[] =>
      req.recipients.map(
        (r) =>
          outcomes.get(r.index) ?? {
            index: r.index,
            status: 'deferred',
            dsn: '4.4.1',
            relay: NO_RELAY,
            reason: 'delivery temporarily suspended: no server could be tried',
          },
      );
    const failAll = (f: RouteFailure): RecipientOutcome[] => {
      for (const p of pending) outcomes.set(p.rcpt.index, { index: p.rcpt.index, relay: NO_RELAY, ...f });
      return finish();
    };

    let dest: Destination;
    let policy: TlsPolicy;
    try {
      dest = this.destination(req.nexthop, s);
      policy = fixedTlsPolicy(s) ?? (await tlsPolicyFor(req.nexthop, dest, s, this.o.openDict, this.mtaSts(s)));
      // Unusable protocol or cipher settings defer here, not in the middle of a session.
      if (policy.level !== 'none') tlsParamsFor(s, policy);
      if (policy.level === 'dane') tlsParamsFor(s, { ...policy, level: 'may' });
    } catch (e) {
      if (e instanceof TlsConfigError) {
        this.o.log.warning(`${req.queueId}: ${e.message}`);
        return failAll({ status: 'deferred', dsn: '4.7.5', reason: `TLS configuration error: ${e.message}` });
      }
      if (e instanceof DictRetryError)
        return failAll({ status: 'deferred', dsn: '4.3.0', reason: `TLS policy lookup error for ${req.nexthop}` });
      if (e instanceof TlsPolicyError) return failAll({ status: 'deferred', dsn: '4.7.5', reason: e.message });
      return failAll({ status: 'deferred', dsn: '4.3.5', reason: (e as Error).message });
    }
    if (this.generic.enabled) {
      try {
        req = await this.generic.mapRequest(queued);
        pending.splice(0, pending.length, ...req.recipients.map((rcpt) => ({ rcpt })));
      } catch (e) {
        if (!(e instanceof DictRetryError)) throw e;
        this.o.log.warning(`${req.queueId}: ${this.generic.param} lookup error: ${e.message}`);
        return failAll({ status: 'deferred', dsn: '4.3.0', reason: `${this.generic.param} lookup error` });
      }
    }
    const domain = dest.kind === 'inet' ? dest.host : req.nexthop;
    // Sender-dependent credentials make a session the sender's own: it is cached under the sender too.
    const bySender = sasl.enabled && sasl.senderDependent ? `:${queued.sender}` : '';
    const cacheKey = `${req.transport}:${req.nexthop}:${policy.level}${bySender}`;
    const useCache = s.cacheOnDemand || this.cacheDestinations(s).has(req.nexthop.toLowerCase());

    // A cached session to this next hop skips DNS and the handshake altogether.
    const cached = useCache ? this.cache.take(cacheKey, s.reuseTimeLimit, s.reuseCountLimit) : undefined;
    if (cached) {
      const done = await this.useSession(cached, req, pending, s, outcomes, true);
      if (done.reusable) this.cache.put(cacheKey, cached, s.cacheTimeLimit, s.quitTimeout);
      if (pending.length === 0) return finish();
    }

    const route = await resolveDestination(dest, s, this.resolver, this.own);
    let candidates: readonly Candidate[] = route.kind === 'ok' ? route.candidates : [];
    if (route.kind === 'fail' && (route.failure.status === 'bounced' || s.fallbackRelay.length === 0)) {
      return failAll(route.failure);
    }
    if (route.kind === 'fail') for (const p of pending) p.last = { ...route.failure, relay: NO_RELAY };

    let sessions = 0;
    let triedFallback = false;
    for (let i = 0; ; i++) {
      if (i >= candidates.length) {
        // smtp_fallback_relay: tried only after every real server failed.
        if (triedFallback || pending.length === 0 || s.fallbackRelay.length === 0 || dest.kind !== 'inet') break;
        triedFallback = true;
        candidates = [...candidates, ...(await this.fallbackCandidates(s))];
        if (i >= candidates.length) break;
      }
      if (pending.length === 0) break;
      if (s.mxSessionLimit > 0 && sessions >= s.mxSessionLimit) break;
      const c = candidates[i] as Candidate;
      const dane = await daneForCandidate(policy, c, this.resolver, s.dnsLevel === 'dnssec');
      if ('failure' in dane) {
        for (const p of pending) p.last = { ...dane.failure, relay: NO_RELAY };
        continue;
      }
      const stsFailure = this.stsMxCheck(dane.policy, c, req.queueId);
      if (stsFailure) {
        for (const p of pending) p.last = { ...stsFailure, relay: NO_RELAY };
        continue;
      }
      const opened = await this.open(c, dane.policy, domain, req, queued.sender, s);
      if (!('conn' in opened)) {
        const f = opened;
        const relay = f.kind === 'connect' ? NO_RELAY : relayOfCandidate(c);
        const result = {
          dsn: f.dsn,
          relay,
          reason: f.reason,
          ...(f.remoteReply ? { remoteReply: f.remoteReply } : {}),
        };
        if (f.kind !== 'connect') sessions++;
        if (!f.soft) {
          for (const p of pending) outcomes.set(p.rcpt.index, { index: p.rcpt.index, status: 'bounced', ...result });
          pending.length = 0;
          break;
        }
        for (const p of pending) p.last = result;
        // Postfix logs why a server was skipped; the final reason is logged with the status.
        if (i < candidates.length - 1) this.o.log.info(f.kind === 'connect' ? f.reason : `${req.queueId}: ${f.reason}`);
        continue;
      }
      const session = opened;
      sessions++;
      const done = await this.useSession(session, req, pending, s, outcomes, false);
      if (done.reusable && useCache) this.cache.put(cacheKey, session, s.cacheTimeLimit, s.quitTimeout);
      else if (done.reusable) await session.conn.quit(s.quitTimeout);
      else session.conn.close();
    }
    for (const p of pending) {
      const l = p.last;
      if (l) outcomes.set(p.rcpt.index, { index: p.rcpt.index, status: 'deferred', ...l });
    }
    return finish();
  }

  /**
   * A session with one server; for `may`, a failed TLS handshake is retried
   * once in plaintext. `sender` is the queued (not generic-mapped) sender,
   * the key for sender-dependent credentials.
   */
  private async open(
    c: Candidate,
    tls: TlsPolicy,
    nexthopDomain: string,
    req: DeliveryRequest,
    sender: string,
    s: ClientSettings,
  ): Promise<Session | SessionFailure> {
    const sasl = (this.sasl ??= readSaslSettings(this.o.config, this.protocol));
    // Postfix's order: the sender (if enabled), the server's name, then the next hop as written.
    const credentials = sasl.enabled
      ? await findCredentials(
          sasl,
          sender,
          [c.hostname, req.nexthop, nexthopDomain],
          this.o.openDict,
          this.localDomains,
        )
      : undefined;
    const base = { settings: s, tls, nexthopDomain, log: this.o.log, req, sasl: { settings: sasl, credentials } };
    try {
      return await openSession(c, base);
    } catch (e) {
      if (!(e instanceof SessionAbort)) throw e;
      if (e.failure.kind !== 'tls-handshake' || tls.level !== 'may') return e.failure;
      this.o.log.info(`${relayOfCandidate(c)}: ${e.failure.reason}; retrying without TLS`);
    }
    try {
      return await openSession(c, { ...base, plaintextOnly: true });
    } catch (e) {
      if (!(e instanceof SessionAbort)) throw e;
      return e.failure;
    }
  }

  /** Run transactions for the pending recipients, `recipientLimit` at a time; settle what is final. */
  private async useSession(
    session: Session,
    req: DeliveryRequest,
    pending: Pending[],
    s: ClientSettings,
    outcomes: Map<number, RecipientOutcome>,
    fromCache: boolean,
  ): Promise<{ reusable: boolean }> {
    const relay = session.relay;
    let reusable = true;
    const batch = [...pending];
    for (let off = 0; off < batch.length && reusable; off += s.recipientLimit) {
      const chunk = batch.slice(off, off + s.recipientLimit);
      const r = await runTransaction(
        session,
        req,
        chunk.map((p) => p.rcpt),
        s,
      );
      reusable = r.reusable;
      if (!reusable) {
        // Recipients of later chunks were never offered: they share the broken session's fate.
        const soft = [...r.results.values()].find((x) => x.status === 'soft');
        const reason = soft?.reason ?? `lost connection with ${session.label} while sending RSET`;
        for (const p of batch.slice(off + s.recipientLimit)) p.last = { dsn: soft?.dsn ?? '4.4.2', reason, relay };
      }
      for (const p of chunk) {
        const res = r.results.get(p.rcpt.index);
        if (!res) continue;
        if (res.status === 'soft') {
          // A cached session that died in between is not this destination's fault: leave no trace.
          if (!(fromCache && res.dsn === '4.4.2'))
            p.last = {
              dsn: res.dsn,
              reason: res.reason,
              relay,
              ...(res.remoteReply ? { remoteReply: res.remoteReply } : {}),
            };
          continue;
        }
        const outcome: Mutable<RecipientOutcome> = {
          index: p.rcpt.index,
          status: res.status,
          dsn: res.dsn,
          relay,
          reason: res.reason,
        };
        if (res.remoteReply) outcome.remoteReply = res.remoteReply;
        if (res.status === 'sent') outcome.dsnSuccess = successAction(session, this.protocol);
        outcomes.set(p.rcpt.index, outcome);
        pending.splice(pending.indexOf(p), 1);
      }
    }
    return { reusable };
  }

  /** The next hop's syntax, parsed once per distinct text (bounded); a bad one throws every time. */
  private destination(nexthop: string, s: ClientSettings): Destination {
    let d = this.destinations.get(nexthop);
    if (!d) {
      d = parseNexthop(nexthop, this.protocol, s.defaultPort);
      if (this.destinations.size >= DESTINATION_MEMO_LIMIT) this.destinations.clear();
      this.destinations.set(nexthop, d);
    }
    return d;
  }

  /** smtp_connection_cache_destinations, lower-cased, as a set. */
  private cacheDestinations(s: ClientSettings): ReadonlySet<string> {
    return (this.cacheDests ??= new Set(s.cacheDestinations.map((d) => d.toLowerCase())));
  }

  /** The built-in MTA-STS resolver, made when smtp_tls_policy_maps first names `mta-sts:`. */
  private mtaSts(s: ClientSettings): MtaSts | undefined {
    if (this.o.mtaSts) return this.o.mtaSts;
    if (!s.tlsPolicyMaps.some(isMtaStsSpec)) return undefined;
    this.sts ??= new MtaSts({ resolver: this.resolver, log: (t) => this.o.log.warning(t) });
    return this.sts;
  }

  /** RFC 8461 section 4.1: under an enforced policy only MX hosts that match its patterns may be used. */
  private stsMxCheck(policy: TlsPolicy, c: Candidate, queueId: string): RouteFailure | undefined {
    const sts = policy.sts;
    if (!sts || policy.tlsa || mxMatches(c.hostname, sts.mx)) return undefined;
    const text = `MX host ${c.hostname} does not match the MTA-STS policy of ${sts.domain}`;
    if (sts.mode === 'testing') {
      this.o.log.info(`${queueId}: MTA-STS testing mode: ${text}`);
      return undefined;
    }
    return { status: 'deferred', dsn: '4.7.5', reason: text };
  }

  private async fallbackCandidates(s: ClientSettings): Promise<Candidate[]> {
    const out: Candidate[] = [];
    for (const relay of s.fallbackRelay) {
      try {
        const d = parseNexthop(relay, this.protocol, s.defaultPort);
        const r = await resolveDestination(d, s, this.resolver, this.own);
        if (r.kind === 'ok') out.push(...r.candidates);
      } catch (e) {
        this.o.log.warning(`bad ${this.protocol}_fallback_relay entry "${relay}": ${(e as Error).message}`);
      }
    }
    return out;
  }
}

/**
 * Postfix's smtp(8): a next hop that announces DSN was given NOTIFY and
 * reports success itself; otherwise a success notice says `relayed`, or
 * `delivered` for LMTP, whose server is the final destination.
 */
function successAction(session: Session, protocol: Protocol): 'delivered' | 'relayed' | 'passed-on' {
  if (session.features.has('DSN')) return 'passed-on';
  return protocol === 'lmtp' ? 'delivered' : 'relayed';
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function relayOfCandidate(c: Candidate): string {
  return c.unix ? `${c.hostname}[${c.address}]` : `${c.hostname}[${c.address}]:${c.port}`;
}

/** This host's addresses as Postfix sees them: inet_interfaces plus proxy_interfaces. */
export function ownAddresses(cfg: ParamReader): Set<string> {
  const out = new Set<string>();
  const ifs = cfg.list('inet_interfaces').map((s) => s.toLowerCase());
  if (ifs.includes('all')) {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  }
  if (ifs.includes('loopback-only')) ['127.0.0.1', '::1'].forEach((a) => out.add(a));
  for (const a of [...ifs, ...cfg.list('proxy_interfaces')]) {
    const bare = a.replace(/^\[|\]$/g, '');
    if (isIP(bare)) out.add(bare);
  }
  return out;
}
