// reject_unlisted_recipient / reject_unlisted_sender and the implicit
// smtpd_reject_unlisted_* checks (LOCAL_RECIPIENT_README, ADDRESS_CLASS_README):
// an address in one of our domains must exist in the table of its class, or
// the client gets `550 5.1.1 <addr>: Recipient address rejected: User unknown
// in local recipient table` (or the virtual alias/mailbox, relay variant).
import { mailAddressKeys } from '../../../global/addr/lookup-keys.js';
import { splitMatchList } from '../../../global/match/match-list.js';
import { receiveOverrides } from '../../../global/queue/receive-overrides.js';
import type { PolicyContext } from './context.js';
import { isRetry } from './context.js';
import { CLASS, replyAddress } from './replies.js';
import { DUNNO, type EvalState, type StepResult } from './types.js';

type Outcome = 'found' | 'missing' | 'retry';

/** What the check needs from main.cf, read once per policy (a reload builds a new one). */
interface UnlistedSettings {
  readonly off: boolean;
  /** recipient_canonical_maps, canonical_maps, virtual_alias_maps: only those that name a table. */
  readonly aliasMaps: readonly (readonly string[])[];
  readonly localMaps: readonly string[] | undefined;
  readonly virtualMailboxMaps: readonly string[];
  readonly relayMaps: readonly string[] | undefined;
  readonly doubleBounce: string;
  readonly delimiters: string;
  readonly ownerRequestSpecial: boolean;
}

const SETTINGS = new WeakMap<PolicyContext, UnlistedSettings>();

function settingsOf(ctx: PolicyContext): UnlistedSettings {
  let st = SETTINGS.get(ctx);
  if (st) return st;
  const c = ctx.config;
  const specs = (param: string): string[] => splitMatchList(c.get(param));
  st = {
    // receive_override_options=no_unknown_recipient_checks: an entry behind a content filter trusts what it gets.
    off: receiveOverrides(c).has('no_unknown_recipient_checks'),
    aliasMaps: ['recipient_canonical_maps', 'canonical_maps', 'virtual_alias_maps']
      .map(specs)
      .filter((l) => l.length > 0),
    localMaps: c.get('local_recipient_maps').trim() === '' ? undefined : specs('local_recipient_maps'),
    virtualMailboxMaps: specs('virtual_mailbox_maps'),
    relayMaps: c.get('relay_recipient_maps').trim() === '' ? undefined : specs('relay_recipient_maps'),
    doubleBounce: c.get('double_bounce_sender').toLowerCase(),
    delimiters: c.get('recipient_delimiter'),
    ownerRequestSpecial: ctx.boolParam('owner_request_special'),
  };
  SETTINGS.set(ctx, st);
  return st;
}

export async function checkUnlisted(
  ctx: PolicyContext,
  state: EvalState,
  address: string,
  which: 'sender' | 'recipient',
): Promise<StepResult> {
  const st = settingsOf(ctx);
  if (address === '' || st.off) return DUNNO;
  const resolver = await ctx.resolverFor();
  const r = await resolver.resolve(address);
  let keys: string[] | undefined;
  const find = async (specs: readonly string[]): Promise<Outcome> => {
    keys ??= mailAddressKeys(`${r.local}@${r.domain}`, {
      delimiters: st.delimiters,
      ownerRequestSpecial: st.ownerRequestSpecial,
      localDomain: r.cls === 'local',
    });
    try {
      return (await ctx.lookupFirst(specs, keys)) ? 'found' : 'missing';
    } catch (e) {
      if (isRetry(e)) return 'retry';
      throw e;
    }
  };
  const cls = which === 'sender' ? CLASS.sender : CLASS.recipient;
  const dsn = which === 'sender' ? '5.1.0' : '5.1.1';
  const unknown = (codeParam: string, table: string): StepResult => {
    const showTable = ctx.boolParam('show_user_unknown_table_name');
    return ctx.reject(
      state,
      ctx.intParam(codeParam, 550),
      dsn,
      `<${replyAddress(address)}>: ${cls} rejected: User unknown${showTable ? ` in ${table}` : ''}`,
    );
  };

  // An address that canonical or virtual alias maps rewrite is valid whatever its class.
  for (const specs of st.aliasMaps) {
    const o = await find(specs);
    if (o === 'found') return DUNNO;
    if (o === 'retry') return ctx.lookupFailure(state, address);
  }
  let outcome: Outcome = 'found';
  let codeParam = '';
  let table = '';
  switch (r.cls) {
    case 'local': {
      const lower = r.local.toLowerCase();
      // Mail to postmaster and the double-bounce address is absorbed by Postfix itself.
      if (lower === 'postmaster' || lower === st.doubleBounce) return DUNNO;
      if (st.localMaps === undefined) return DUNNO;
      outcome = await find(st.localMaps);
      codeParam = 'unknown_local_recipient_reject_code';
      table = 'local recipient table';
      break;
    }
    case 'virtual-alias':
      outcome = 'missing';
      codeParam = 'unknown_virtual_alias_reject_code';
      table = 'virtual alias table';
      break;
    case 'virtual-mailbox':
      outcome = await find(st.virtualMailboxMaps);
      codeParam = 'unknown_virtual_mailbox_reject_code';
      table = 'virtual mailbox table';
      break;
    case 'relay':
      if (st.relayMaps === undefined) return DUNNO;
      outcome = await find(st.relayMaps);
      codeParam = 'unknown_relay_recipient_reject_code';
      table = 'relay recipient table';
      break;
    case 'default':
      return DUNNO;
  }
  if (outcome === 'retry') return ctx.lookupFailure(state, address);
  return outcome === 'missing' ? unknown(codeParam, table) : DUNNO;
}
