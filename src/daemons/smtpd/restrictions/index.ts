// smtpd's access policy (SMTPD_ACCESS_README): createSmtpdPolicy() turns the
// smtpd_*_restrictions parameters into an SmtpdPolicy that the protocol engine
// asks at each stage. Start-up checks mirror Postfix's: restriction classes
// must be defined, and the relay and recipient lists together must contain a
// restriction that can refuse mail for strangers (never an open relay).
import type { PolicyVerdict, RestrictionStage, SessionFacts, SmtpdPolicy } from '../policy-api.js';
import { splitRestrictions } from './access-actions.js';
import { PolicyContext } from './context.js';
import { Evaluator } from './evaluator.js';
import { checkUnlisted } from './recipient-maps.js';
import { replyAddress } from './replies.js';
import { isProbeSender, probeSenderSettings } from '../../verify/probe-sender.js';
import { DUNNO, type EvalState, type SmtpdPolicyDeps, type StepResult } from './types.js';

export type { DnsAnswer, DnsType, PolicyResolver, SmtpdPolicyDeps, DictOpener } from './types.js';

/** The relay restrictions Postfix uses from compatibility level 1 on. */
const SAFE_RELAY_DEFAULT = 'permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination';
const RELAY_REQUIRED = [
  'reject_unauth_destination',
  'defer_unauth_destination',
  'reject',
  'defer',
  'defer_if_permit',
  'check_relay_domains',
];

const DUNNO_VERDICT: PolicyVerdict = Object.freeze({ action: 'dunno' });

/** The stages evaluated for a RCPT command (all of them with smtpd_delay_reject = yes). */
const RCPT_TIME: ReadonlySet<RestrictionStage> = new Set(['connect', 'helo', 'mail', 'rcpt']);

const STAGE_LISTS: Record<Exclude<RestrictionStage, 'rcpt' | 'vrfy'>, string> = {
  connect: 'smtpd_client_restrictions',
  helo: 'smtpd_helo_restrictions',
  mail: 'smtpd_sender_restrictions',
  data: 'smtpd_data_restrictions',
  'end-of-data': 'smtpd_end_of_data_restrictions',
  etrn: 'smtpd_etrn_restrictions',
};

export function createSmtpdPolicy(deps: SmtpdPolicyDeps): SmtpdPolicy {
  const { config, logger } = deps;
  const ctx = new PolicyContext(deps);
  const classes = new Map<string, string[]>();
  for (const name of splitRestrictions(config.get('smtpd_restriction_classes'))) {
    const def = splitRestrictions(config.get(name));
    if (def.length === 0) logger.fatal(`restriction class \`${name}' needs a definition`);
    classes.set(name, def);
  }
  const lists = new Map<string, string[]>();
  for (const param of Object.values(STAGE_LISTS)) lists.set(param, splitRestrictions(config.get(param)));
  lists.set('smtpd_recipient_restrictions', splitRestrictions(config.get('smtpd_recipient_restrictions')));
  let relay = splitRestrictions(config.get('smtpd_relay_restrictions'));
  if (relay.length === 0 && !config.isSet('smtpd_relay_restrictions')) {
    // Compatibility level 0 leaves this empty; Postfix then relays with a warning. Postern refuses to be an open relay.
    logger.warning(
      `smtpd_relay_restrictions is empty at compatibility_level ${config.get('compatibility_level')}; using "${SAFE_RELAY_DEFAULT}"`,
    );
    relay = splitRestrictions(SAFE_RELAY_DEFAULT);
  }
  lists.set('smtpd_relay_restrictions', relay);

  const hasRequired = (list: readonly string[], seen: Set<string>): boolean =>
    list.some((r) => {
      if (RELAY_REQUIRED.includes(r.toLowerCase())) return true;
      const cls = classes.get(r);
      if (!cls || seen.has(r)) return false;
      seen.add(r);
      return hasRequired(cls, seen);
    });
  if (!hasRequired(relay, new Set()) && !hasRequired(lists.get('smtpd_recipient_restrictions') ?? [], new Set())) {
    logger.fatal(
      'in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: ' +
        `${RELAY_REQUIRED.slice(0, -1).join(', ')} or ${RELAY_REQUIRED.at(-1) ?? ''}`,
    );
  }
  const evaluator = new Evaluator(ctx, classes);
  for (const [param, list] of lists) {
    for (let i = 0; i < list.length; i++) {
      const r = list[i] ?? '';
      if (evaluator.takesArgument(r.toLowerCase())) i++;
      else if (!evaluator.isKnown(r.toLowerCase()) && !classes.has(r))
        logger.warning(`${param}: unknown smtpd restriction: "${r}"`);
    }
  }

  const relayFirst = (): boolean => ctx.boolParam('smtpd_relay_before_recipient_restrictions');
  const probeSender = probeSenderSettings(config);
  // With smtpd_delay_reject every RCPT asks about four stages; the answer for one recipient is asked once.
  let probeMemo = { recipient: '', period: NaN, result: false };
  const toProbeSender = (recipient: string): boolean => {
    const now = Date.now() / 1000;
    const period = probeSender.ttlSeconds > 0 ? Math.floor(now / probeSender.ttlSeconds) : 0;
    if (probeMemo.recipient === recipient && probeMemo.period === period) return probeMemo.result;
    const result = isProbeSender(probeSender, replyAddress(recipient), now);
    probeMemo = { recipient, period, result };
    return result;
  };
  // A stage whose list is empty (most of them, by default) decides nothing: no evaluation needed.
  const unlistedSender = ctx.boolParam('smtpd_reject_unlisted_sender');
  const emptyStages = new Set<RestrictionStage>();
  for (const [stage, param] of Object.entries(STAGE_LISTS) as [keyof typeof STAGE_LISTS, string][]) {
    if ((lists.get(param) ?? []).length === 0 && !(stage === 'mail' && unlistedSender)) emptyStages.add(stage);
  }

  return {
    async check(stage: RestrictionStage, facts: SessionFacts): Promise<PolicyVerdict> {
      if (emptyStages.has(stage)) return DUNNO_VERDICT;
      // Mail to our own probe sender (a remote site verifying it) skips every restriction, as in Postfix,
      // so that two sites probing each other can never cache each other as undeliverable.
      if (RCPT_TIME.has(stage) && facts.recipient !== undefined && toProbeSender(facts.recipient)) return DUNNO_VERDICT;
      const state: EvalState = {
        stage,
        facts,
        deferIfPermit: undefined,
        deferIfReject: undefined,
        warnIfReject: false,
        effects: [],
        depth: 0,
        rcptMapsChecked: false,
        senderMapsChecked: false,
      };
      let result: StepResult = DUNNO;
      if (stage === 'rcpt' || stage === 'vrfy') {
        const order = relayFirst()
          ? ['smtpd_relay_restrictions', 'smtpd_recipient_restrictions']
          : ['smtpd_recipient_restrictions', 'smtpd_relay_restrictions'];
        // Each list ends at its own permit; a permit in one does not skip the other.
        for (const param of order) {
          const list = lists.get(param) ?? [];
          // An empty list (smtpd_recipient_restrictions by default) decides nothing.
          result = list.length === 0 ? DUNNO : await evaluator.evalList(state, list);
          if (result.kind === 'reject') break;
        }
        if (result.kind !== 'reject' && !state.rcptMapsChecked && ctx.boolParam('smtpd_reject_unlisted_recipient')) {
          // Postfix runs this check apart from the restriction lists: defer_if_reject does not soften it.
          state.deferIfReject = undefined;
          state.warnIfReject = false;
          const r = await guarded(ctx, state, () => checkUnlisted(ctx, state, facts.recipient ?? '', 'recipient'));
          if (r.kind === 'reject') result = r;
        }
      } else {
        result = await evaluator.evalList(state, lists.get(STAGE_LISTS[stage]) ?? []);
        if (
          stage === 'mail' &&
          result.kind !== 'reject' &&
          !state.senderMapsChecked &&
          ctx.boolParam('smtpd_reject_unlisted_sender')
        ) {
          const r = await guarded(ctx, state, () => checkUnlisted(ctx, state, facts.sender ?? '', 'sender'));
          if (r.kind === 'reject') result = r;
        }
      }
      if (result.kind === 'reject') return { action: 'reject', reply: result.reply, logText: result.logText };
      if (state.deferIfPermit) return { action: 'reject', ...state.deferIfPermit };
      if (state.effects.length > 0) return { action: 'accept-with', effects: state.effects };
      return result.kind === 'ok' ? { action: 'permit' } : DUNNO_VERDICT;
    },
  };
}

/** Run an implicit check; table trouble becomes a 4xx reply, never an exception out of check(). */
async function guarded(ctx: PolicyContext, state: EvalState, fn: () => Promise<StepResult>): Promise<StepResult> {
  try {
    return await fn();
  } catch (e) {
    ctx.logger.warning(`recipient table lookup: ${(e as Error).message}`);
    return ctx.lookupFailure(state, state.facts.recipient ?? state.facts.sender ?? '');
  }
}
