// Restrictions that ask the DNS (through the injected PolicyResolver):
// reject_unknown_{sender,recipient}_domain, reject_unknown_helo_hostname,
// DNS block/allow lists (reject_rbl_client, reject_rhsbl_*, permit_dnswl_client,
// permit_rhswl_client) and check_*_{mx,ns,a}_access. Texts follow Postfix:
// `450 4.1.8 <a@b>: Sender address rejected: Domain not found`,
// `554 5.7.1 Service unavailable; Client host [1.2.3.4] blocked using zen.example`.
import { addressLiteral, splitAddress } from '../../../global/addr/address.js';
import { clientAddressKeys, domainKeys } from '../../../global/addr/lookup-keys.js';
import { parseIp } from '../../../global/match/ip.js';
import { splitMatchList } from '../../../global/match/match-list.js';
import { applyAccessValue, type NestedEvaluator } from './access-actions.js';
import { expandTemplate, rblTemplate, rblVariables } from './rbl-reply.js';
import { replyAddress, splitDsn } from './replies.js';
import type { PolicyContext } from './context.js';
import { DUNNO, OK, type DnsAnswer, type EvalState, type StepResult } from './types.js';

/** Apply a temporary DNS failure per `*_tempfail_action` (defer or defer_if_permit). */
export function tempfail(
  ctx: PolicyContext,
  state: EvalState,
  actionParam: string,
  dsn: string,
  text: string,
): StepResult {
  const action = ctx.config.get(actionParam).trim().toLowerCase();
  if (action === 'defer') return ctx.reject(state, 450, dsn, text);
  state.deferIfPermit ??= ctx.savedReply(state, 450, dsn, text);
  return DUNNO;
}

/** The DNS side of reject_unknown_*_domain: a null MX, no MX/A/AAAA, or a temporary failure. */
async function mailhostStatus(ctx: PolicyContext, domain: string): Promise<'ok' | 'nullmx' | 'notfound' | 'tempfail'> {
  const mx = await ctx.resolver.query(domain, 'MX');
  if (mx.status === 'ok' && mx.records.length > 0) {
    return mx.records.length === 1 && (mx.records[0] === '.' || mx.records[0] === '') ? 'nullmx' : 'ok';
  }
  if (mx.status === 'tempfail') return 'tempfail';
  const answers = await Promise.all([ctx.resolver.query(domain, 'A'), ctx.resolver.query(domain, 'AAAA')]);
  if (answers.some((a) => a.status === 'ok' && a.records.length > 0)) return 'ok';
  return answers.some((a) => a.status === 'tempfail') ? 'tempfail' : 'notfound';
}

export async function rejectUnknownAddress(
  ctx: PolicyContext,
  state: EvalState,
  address: string | undefined,
  which: 'sender' | 'recipient',
): Promise<StepResult> {
  if (address === undefined || address === '') return DUNNO;
  const { domain, hasAt } = splitAddress(address);
  if (!hasAt || domain === '' || addressLiteral(domain) !== undefined) return DUNNO;
  // Our own destinations are not looked up: they exist by definition.
  const resolved = await (await ctx.resolverFor()).resolve(address);
  if (resolved.cls === 'local' || resolved.cls === 'virtual-alias' || resolved.cls === 'virtual-mailbox') return DUNNO;
  const cls = which === 'sender' ? 'Sender address' : 'Recipient address';
  const dsn = which === 'sender' ? '4.1.8' : '4.1.2';
  const status = await mailhostStatus(ctx, domain.replace(/\.$/, ''));
  switch (status) {
    case 'ok':
      return DUNNO;
    case 'nullmx':
      return ctx.reject(
        state,
        550,
        which === 'sender' ? '5.7.27' : '5.1.10',
        `<${replyAddress(address)}>: ${cls} rejected: Domain ${domain} does not accept mail (nullMX)`,
      );
    case 'notfound':
      return ctx.reject(
        state,
        ctx.intParam('unknown_address_reject_code', 450),
        dsn,
        `<${replyAddress(address)}>: ${cls} rejected: Domain not found`,
      );
    case 'tempfail':
      return tempfail(
        ctx,
        state,
        'unknown_address_tempfail_action',
        dsn,
        `<${replyAddress(address)}>: ${cls} rejected: Domain not found`,
      );
  }
}

export async function rejectUnknownHelo(ctx: PolicyContext, state: EvalState): Promise<StepResult> {
  const helo = state.facts.helo;
  if (helo === undefined || addressLiteral(helo) !== undefined) return DUNNO;
  const status = await mailhostStatus(ctx, helo.replace(/\.$/, ''));
  const text = `<${helo}>: Helo command rejected: Host not found`;
  if (status === 'notfound') return ctx.reject(state, ctx.intParam('unknown_hostname_reject_code', 450), '4.7.1', text);
  if (status === 'tempfail') return tempfail(ctx, state, 'unknown_helo_hostname_tempfail_action', '4.7.1', text);
  return DUNNO;
}

/** `rbl.example.org` or `rbl.example.org=127.0.0.[2..11]`: the zone and an optional answer filter. */
function parseRblArg(arg: string): { zone: string; filter: ((ip: string) => boolean) | undefined } {
  const eq = arg.indexOf('=');
  if (eq < 0) return { zone: arg, filter: undefined };
  const pattern = arg.slice(eq + 1);
  const parts = pattern.split('.');
  const matchers = parts.map((p) => {
    const range = /^\[(.*)\]$/.exec(p);
    if (!range) return (o: number) => String(o) === p;
    const allowed = (range[1] ?? '').split(';').map((r) => r.split('..').map((x) => Number.parseInt(x, 10)));
    return (o: number) => allowed.some(([lo = NaN, hi = lo]) => o >= lo && o <= hi);
  });
  return {
    zone: arg.slice(0, eq),
    filter: (ip) => {
      const octets = ip.split('.').map((x) => Number.parseInt(x, 10));
      return octets.length === matchers.length && matchers.every((m, i) => m(octets[i] ?? -1));
    },
  };
}

/** The DNSBL query name for a client address: reversed octets (IPv4) or nibbles (IPv6). */
export function rblQueryName(addr: string, zone: string): string | undefined {
  const ip = parseIp(addr);
  if (!ip) return undefined;
  if (ip.family === 4) return `${addr.split('.').reverse().join('.')}.${zone}`;
  const hex = ip.value.toString(16).padStart(32, '0');
  return `${[...hex].reverse().join('.')}.${zone}`;
}

type Listed = { listed: false; temp: boolean } | { listed: true; reason: string | undefined };

async function queryList(
  ctx: PolicyContext,
  name: string,
  filter: ((ip: string) => boolean) | undefined,
): Promise<Listed> {
  const a: DnsAnswer = await ctx.resolver.query(name, 'A');
  if (a.status !== 'ok') return { listed: false, temp: a.status === 'tempfail' };
  const hits = a.records.filter((r) => filter === undefined || filter(r));
  if (hits.length === 0) return { listed: false, temp: false };
  const txt = await ctx.resolver.query(name, 'TXT');
  return { listed: true, reason: txt.status === 'ok' ? txt.records.join(' ') : undefined };
}

export interface RblTarget {
  /** Client host, Sender address, Helo command, Recipient address, Reverse client host. */
  readonly cls: string;
  /** The client address, or the domain for the rhsbl checks. */
  readonly what: string;
  readonly query: string | undefined;
}

export async function rejectRbl(
  ctx: PolicyContext,
  state: EvalState,
  arg: string,
  target: RblTarget,
): Promise<StepResult> {
  const { zone, filter } = parseRblArg(arg);
  if (target.query === undefined) return DUNNO;
  const r = await queryList(ctx, `${target.query}.${zone}`, filter);
  if (!r.listed) return DUNNO;
  const code = ctx.intParam('maps_rbl_reject_code', 554);
  const specs = splitMatchList(ctx.config.get('rbl_reply_maps'));
  const custom = specs.length > 0 ? await ctx.lookupFirst(specs, [zone]) : undefined;
  const vars = rblVariables({ code, cls: target.cls, what: target.what, domain: zone, reason: r.reason }, state.facts);
  const text = expandTemplate(custom?.value ?? rblTemplate(ctx.config), vars).trim();
  // The template yields `NNN [X.Y.Z] text`; anything else is a configuration mistake.
  const m = /^([45]\d\d)\s+(.*)$/s.exec(text);
  if (!m) {
    const source = custom ? custom.spec : 'default_rbl_reply';
    ctx.logger.warning(`${source}: reply for ${zone} does not start with a 4xx or 5xx code: "${text}"`);
    return ctx.configError(state);
  }
  const c = Number.parseInt(m[1] ?? '554', 10);
  const d = splitDsn(m[2] ?? '');
  return ctx.reject(state, c, d.dsn ?? `${String(c)[0]}.7.1`, d.rest);
}

/** permit_dnswl_client / permit_rhswl_client: a listed client is permitted; lookup trouble is ignored. */
export async function permitDnswl(ctx: PolicyContext, arg: string, query: string | undefined): Promise<StepResult> {
  const { zone, filter } = parseRblArg(arg);
  if (query === undefined) return DUNNO;
  const r = await queryList(ctx, `${query}.${zone}`, filter);
  return r.listed ? OK : DUNNO;
}

/** The name to query for a client address in an IP-based list. */
export function clientQuery(addr: string): string | undefined {
  const name = rblQueryName(addr, 'x');
  return name?.slice(0, -2);
}

/**
 * check_*_mx_access / _ns_access / _a_access: look up the MX hosts (or name
 * servers, or addresses) of a domain in an access table, by name and by address.
 */
export async function checkServerAccess(
  ctx: PolicyContext,
  state: EvalState,
  tableSpec: string,
  domain: string | undefined,
  kind: 'MX' | 'NS' | 'A',
  subject: { name: string; cls: string },
  nested: NestedEvaluator,
): Promise<StepResult> {
  if (domain === undefined || domain === '' || addressLiteral(domain) !== undefined) return DUNNO;
  let hosts: string[] = [];
  if (kind === 'A') hosts = [domain];
  else if (kind === 'MX') {
    const mx = await ctx.resolver.query(domain, 'MX');
    // No MX: the domain itself is the mail host (RFC 5321 5.1).
    hosts = mx.status === 'ok' ? mx.records.filter((h) => h !== '.' && h !== '') : [domain];
  } else {
    // Name servers of the domain or its closest parent that has them.
    for (const d of domainKeys(domain, { parentMatchesSubdomains: true })) {
      const ns = await ctx.resolver.query(d, 'NS');
      if (ns.status === 'ok' && ns.records.length > 0) {
        hosts = [...ns.records];
        break;
      }
    }
  }
  const dict = await ctx.table(tableSpec);
  const parent = ctx.parentMatches('smtpd_access_maps');
  const source = `${tableSpec}`;
  for (const host of hosts.slice(0, 20)) {
    const keys = kind === 'A' ? [] : domainKeys(host, { parentMatchesSubdomains: parent });
    for (const t of ['A', 'AAAA'] as const) {
      const a = await ctx.resolver.query(host, t);
      if (a.status === 'ok') for (const ip of a.records) keys.push(...clientAddressKeys(ip));
    }
    for (const key of keys) {
      const value = await dict.lookup(key);
      if (value === undefined) continue;
      const r = await applyAccessValue(ctx, state, value, { ...subject, source, allowOk: false }, nested);
      if (r.kind !== 'dunno') return r;
    }
  }
  return DUNNO;
}
