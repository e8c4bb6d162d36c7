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

export async function checkUnlisted(
  ctx: PolicyContext,
  state: EvalState,
  address: string,
  which: 'sender' | 'recipient',
): Promise<StepResult> {
  // receive_override_options=no_unknown_recipient_checks: an entry behind a content filter trusts what it gets.
  if (address === '' || receiveOverrides(ctx.config).has('no_unknown_recipient_checks')) return DUNNO;
  const resolver = await ctx.resolverFor();
  const r = await resolver.resolve(address);
  const final = `${r.local}@${r.domain}`;
  const keyOpts = {
    delimiters: ctx.config.get('recipient_delimiter'),
    ownerRequestSpecial: ctx.boolParam('owner_request_special'),
    localDomain: r.cls === 'local',
  };
  const keys = mailAddressKeys(final, keyOpts);
  const find = async (param: string): Promise<Outcome> => {
    const specs = splitMatchList(ctx.config.get(param));
    try {
      return (await ctx.lookupFirst(specs, keys)) ? 'found' : 'missing';
    } catch (e) {
      if (isRetry(e)) return 'retry';
      throw e;
    }
  };
  const cls = which === 'sender' ? CLASS.sender : CLASS.recipient;
  const dsn = which === 'sender' ? '5.1.0' : '5.1.1';
  const showTable = ctx.boolParam('show_user_unknown_table_name');
  const unknown = (codeParam: string, table: string): StepResult =>
    ctx.reject(
      state,
      ctx.intParam(codeParam, 550),
      dsn,
      `<${replyAddress(address)}>: ${cls} rejected: User unknown${showTable ? ` in ${table}` : ''}`,
    );

  // An address that canonical or virtual alias maps rewrite is valid whatever its class.
  for (const p of ['recipient_canonical_maps', 'canonical_maps', 'virtual_alias_maps']) {
    const o = await find(p);
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
      if (lower === 'postmaster' || lower === ctx.config.get('double_bounce_sender').toLowerCase()) return DUNNO;
      if (ctx.config.get('local_recipient_maps').trim() === '') return DUNNO;
      outcome = await find('local_recipient_maps');
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
      outcome = await find('virtual_mailbox_maps');
      codeParam = 'unknown_virtual_mailbox_reject_code';
      table = 'virtual mailbox table';
      break;
    case 'relay':
      if (ctx.config.get('relay_recipient_maps').trim() === '') return DUNNO;
      outcome = await find('relay_recipient_maps');
      codeParam = 'unknown_relay_recipient_reject_code';
      table = 'relay recipient table';
      break;
    case 'default':
      return DUNNO;
  }
  if (outcome === 'retry') return ctx.lookupFailure(state, address);
  return outcome === 'missing' ? unknown(codeParam, table) : DUNNO;
}
