// permit_mx_backup and permit_mx_backup_networks (postconf(5)): accept mail
// for a domain when this host is one of its backup MX hosts (not a primary),
// optionally only when every primary MX host is in permit_mx_backup_networks.
// Like Postfix, our own destinations (mydestination, virtual, relay_domains)
// are permitted outright, routed addresses and address literals are not, and
// DNS trouble never rejects by itself: it softens a later 5xx to 450 4.4.4.
import { addressLiteral } from '../../../global/addr/address.js';
import type { PolicyContext } from './context.js';
import { CLASS, replyAddress } from './replies.js';
import { DUNNO, OK, type EvalState, type StepResult } from './types.js';

/** MX hosts looked at per domain; a larger answer is cut here. */
const MAX_MX = 20;
const TRY_AGAIN = 'Host not found, try again';

interface Mx {
  readonly host: string;
  readonly pref: number;
}

export async function permitMxBackup(ctx: PolicyContext, state: EvalState): Promise<StepResult> {
  const rcpt = state.facts.recipient;
  if (rcpt === undefined || rcpt === '') return DUNNO;
  const resolver = await ctx.resolverFor();
  const r = await resolver.resolve(rcpt);
  if (r.domain === '') return OK;
  if (r.routed && !ctx.boolParam('allow_untrusted_routing')) return DUNNO;
  if (r.cls !== 'default') return OK;
  if (addressLiteral(r.domain) !== undefined) return DUNNO;
  const name = replyAddress(rcpt);
  const softenLater = (why: string): void => {
    state.deferIfReject ??= ctx.savedReply(state, 450, '4.4.4', `<${name}>: ${CLASS.recipient} rejected: ${why}`);
  };

  const answer = await ctx.resolver.query(r.domain, 'MX');
  if (answer.status !== 'ok') {
    if (answer.status === 'tempfail') softenLater(`Unable to look up mail exchanger information: ${TRY_AGAIN}`);
    return DUNNO;
  }
  const list: Mx[] = answer.records
    .slice(0, MAX_MX)
    .map((host, i) => ({ host: host.toLowerCase(), pref: answer.preferences?.[i] ?? i }))
    .filter((m) => m.host !== '.' && m.host !== '');
  if (list.length === 0) return DUNNO;
  const best = Math.min(...list.map((m) => m.pref));
  const primaries = list.filter((m) => m.pref === best);
  const backups = list.filter((m) => m.pref !== best);

  const isMe = async (hosts: readonly Mx[]): Promise<boolean> => {
    // Names first; only without a name match are the hosts' addresses looked up.
    for (const m of hosts) if (await resolver.isLocalDomain(m.host)) return true;
    for (const m of hosts) {
      const addrs = await addresses(ctx, m.host);
      if (addrs === undefined) {
        softenLater(`Unable to look up mail exchanger host ${m.host}: ${TRY_AGAIN}`);
        continue;
      }
      if (addrs.some((a) => resolver.isOwnAddress(a))) return true;
    }
    return false;
  };
  if (await isMe(primaries)) return DUNNO;
  if (backups.length === 0 || !(await isMe(backups))) return DUNNO;
  if (ctx.config.get('permit_mx_backup_networks').trim() !== '') {
    const networks = await ctx.matchList('permit_mx_backup_networks');
    for (const m of primaries) {
      const addrs = await addresses(ctx, m.host);
      if (addrs === undefined || addrs.length === 0) {
        softenLater(`Unable to look up host ${m.host} as mail exchanger: ${TRY_AGAIN}`);
        return DUNNO;
      }
      for (const a of addrs) if (!(await networks.matchAddr(a))) return DUNNO;
    }
  }
  return OK;
}

/** A host's IPv4 and IPv6 addresses; undefined when the DNS could not say. */
async function addresses(ctx: PolicyContext, host: string): Promise<string[] | undefined> {
  const answers = await Promise.all([ctx.resolver.query(host, 'A'), ctx.resolver.query(host, 'AAAA')]);
  const found = answers.flatMap((a) => (a.status === 'ok' ? [...a.records] : []));
  if (found.length === 0 && answers.some((a) => a.status === 'tempfail')) return undefined;
  return found;
}
