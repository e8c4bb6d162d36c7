// Turning a next hop into an ordered list of server addresses to try, as
// Postfix's smtp_addr.c does: MX lookup in preference order (equal
// preferences shuffled), A/AAAA fallback when there is no MX, null MX
// (RFC 7505), MX pointing at this host (`loops back to myself`), address
// family choice and `smtp_mx_address_limit`. Failures come back as the
// delivery status Postfix would give the whole destination.
import { isIP } from 'node:net';
import { nameServiceError, nativeAddresses, type LookupResult, type Resolver } from '../../global/dns/lookup.js';
import type { Destination } from './nexthop.js';
import type { ClientSettings } from './settings.js';

export interface Candidate {
  /** Host name for logs and `relay=` (the MX host, or the address itself). */
  readonly hostname: string;
  /** IP address, or the socket path for `unix:` destinations. */
  readonly address: string;
  readonly port: number;
  readonly unix: boolean;
  /** Whether the MX and address records were DNSSEC-validated. */
  readonly authentic: boolean;
}

export interface RouteFailure {
  readonly status: 'deferred' | 'bounced';
  readonly dsn: string;
  readonly reason: string;
}

export type Route =
  | { readonly kind: 'ok'; readonly candidates: readonly Candidate[] }
  | { readonly kind: 'fail'; readonly failure: RouteFailure };

const NOT_FOUND = 'Host or domain name not found. ';

export async function resolveDestination(
  dest: Destination,
  s: ClientSettings,
  resolver: Resolver,
  ownAddresses: ReadonlySet<string>,
): Promise<Route> {
  if (dest.kind === 'unix') {
    return ok([{ hostname: s.myhostname, address: dest.path, port: 0, unix: true, authentic: false }]);
  }
  if (dest.literal) {
    return ok([{ hostname: dest.host, address: dest.host, port: dest.port, unix: false, authentic: false }]);
  }
  const dnssec = s.dnsLevel === 'dnssec';
  const useMx = dest.mx && s.dnsLevel !== 'disabled' && s.hostLookup.includes('dns');
  if (!useMx) {
    const r = await hostAddresses(dest.host, s, resolver);
    if (r.kind !== 'ok') return fail(r.failure);
    return ok(limit(toCandidates(dest.host, r.addresses, dest.port, r.authentic), s.mxAddressLimit));
  }

  const mx = await resolver.mx(dest.host, dnssec);
  if (mx.kind === 'tempfail') return fail(defer('4.4.3', NOT_FOUND + nameServiceError(dest.host, 'MX', mx)));
  if (mx.kind !== 'ok') {
    // RFC 5321 section 5.1: no MX means the domain itself is the mail server. Like
    // Postfix, NXDOMAIN also lands here, so the final error names the A/AAAA lookup.
    const r = await hostAddresses(dest.host, s, resolver);
    if (r.kind !== 'ok') return fail(r.failure);
    return ok(limit(toCandidates(dest.host, r.addresses, dest.port, r.authentic), s.mxAddressLimit));
  }
  // RFC 7505: a single MX with the root as exchange says the domain takes no mail.
  if (mx.records.some((r) => r.exchange === '' || r.exchange === '.')) {
    // Postfix's smtp reports 5.1.0 here (5.1.10 is what smtpd answers for a null-MX sender).
    return fail(bounce('5.1.0', `Domain ${dest.host} does not accept mail (nullMX)`));
  }
  const ordered = orderMx(mx.records);
  const candidates: (Candidate & { pref: number })[] = [];
  let lastFailure: RouteFailure | undefined;
  let selfPref = Number.POSITIVE_INFINITY;
  for (const rec of ordered) {
    if (rec.preference >= selfPref) break;
    const r = await hostAddresses(rec.exchange, s, resolver);
    if (r.kind !== 'ok') {
      // A temporary failure outranks "not found": the address may appear later.
      if (!lastFailure || lastFailure.status === 'bounced') lastFailure = r.failure;
      continue;
    }
    // An MX that is one of our own addresses: only better-preference hosts may be used.
    if (r.addresses.some((a) => ownAddresses.has(a))) {
      selfPref = rec.preference;
      break;
    }
    for (const c of toCandidates(rec.exchange, r.addresses, dest.port, mx.authentic && r.authentic)) {
      candidates.push({ ...c, pref: rec.preference });
    }
  }
  if (candidates.length === 0) {
    if (selfPref !== Number.POSITIVE_INFINITY)
      return fail(bounce('5.4.6', `mail for ${dest.host} loops back to myself`));
    const f = lastFailure ?? bounce('5.4.4', `${NOT_FOUND}no MX host for ${dest.host} has a valid address record`);
    if (s.deferIfNoMxAddress && f.status === 'bounced')
      return fail({ ...f, status: 'deferred', dsn: `4${f.dsn.slice(1)}` });
    return fail(f);
  }
  return ok(limit(candidates, s.mxAddressLimit));
}

/** Sort by preference, shuffling hosts that share a preference (RFC 5321 section 5.1). */
export function orderMx<T extends { preference: number }>(records: readonly T[], random = Math.random): T[] {
  const byPref = new Map<number, T[]>();
  for (const r of records) byPref.set(r.preference, [...(byPref.get(r.preference) ?? []), r]);
  return [...byPref.keys()].sort((a, b) => a - b).flatMap((p) => shuffle(byPref.get(p) ?? [], random));
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

type HostResult = { kind: 'ok'; addresses: string[]; authentic: boolean } | { kind: 'fail'; failure: RouteFailure };

/** A and/or AAAA records of one host, in the order `smtp_address_preference` asks for. */
export async function hostAddresses(name: string, s: ClientSettings, resolver: Resolver): Promise<HostResult> {
  if (isIP(name)) return { kind: 'ok', addresses: [name], authentic: false };
  const families = orderFamilies(s);
  const found: { family: 4 | 6; list: string[] }[] = [];
  // The reported failure is the last lookup's (so usually AAAA, as Postfix logs
  // it), except that "try again" outranks "not found": the address may come back.
  let failure: { type: string; r: Exclude<LookupResult<string>, { kind: 'ok' }> } | undefined;
  let authentic = true;
  for (const family of families) {
    const type = family === 4 ? 'A' : 'AAAA';
    let r: LookupResult<string> | undefined;
    for (const method of s.hostLookup) {
      if (method === 'dns' && s.dnsLevel === 'disabled') continue;
      r =
        method === 'dns'
          ? await resolver.addresses(name, type, s.dnsLevel === 'dnssec')
          : await nativeAddresses(name, family);
      if (r.kind === 'ok') break;
    }
    // With DNS disabled and no native lookup configured, the host file is all that is left.
    r ??= await nativeAddresses(name, family);
    if (r.kind === 'ok') {
      found.push({ family, list: [...r.records] });
      authentic &&= r.authentic;
    } else if (failure?.r.kind !== 'tempfail') failure = { type, r };
  }
  if (found.length === 0) {
    const f = failure ?? { type: 'A', r: { kind: 'nxdomain' as const, text: 'Host not found' } };
    const text = NOT_FOUND + nameServiceError(name, f.type, f.r);
    return { kind: 'fail', failure: f.r.kind === 'tempfail' ? defer('4.4.3', text) : bounce('5.4.4', text) };
  }
  let addresses = found.flatMap((f) => f.list);
  if (s.addressPreference === 'any' && s.randomizeAddresses) addresses = shuffle(addresses, Math.random);
  return { kind: 'ok', addresses, authentic };
}

function orderFamilies(s: ClientSettings): (4 | 6)[] {
  const fams = [...s.families];
  if (s.addressPreference === 'ipv6') fams.sort((a, b) => b - a);
  else fams.sort((a, b) => a - b);
  return fams;
}

function toCandidates(hostname: string, addresses: readonly string[], port: number, authentic: boolean): Candidate[] {
  return addresses.map((address) => ({ hostname, address, port, unix: false, authentic }));
}

function limit<T>(list: T[], max: number): T[] {
  return max > 0 ? list.slice(0, max) : list;
}

const ok = (candidates: readonly Candidate[]): Route => ({ kind: 'ok', candidates });
const fail = (failure: RouteFailure): Route => ({ kind: 'fail', failure });
export const bounce = (dsn: string, reason: string): RouteFailure => ({ status: 'bounced', dsn, reason });
export const defer = (dsn: string, reason: string): RouteFailure => ({ status: 'deferred', dsn, reason });
