// reject_unverified_sender and reject_unverified_recipient: ask the verify(8)
// service about the address, polling up to address_verify_poll_count times
// while a probe is in progress (waiting at most address_verify_poll_delay
// between polls, less when the answer comes sooner), then answer as
// Postfix's smtpd does:
//   deliverable                  → no decision (the next restriction runs)
//   in progress / probe deferred → unverified_*_defer_code,
//       "<a>: Recipient address rejected: unverified address: <why>"
//   undeliverable                → unverified_*_reject_code; a 4xx code uses
//       the "unverified address" text, a 5xx one "undeliverable address"
//   verify service down          → 450 "address verification problem"
// A 4xx goes through unverified_*_tempfail_action (defer_if_permit: only if
// nothing else rejects; defer: at once); a 2xx code accepts; the reason text
// is replaced by unverified_*_reject_reason when that is set. Enhanced codes
// are 4.1.1 for recipients and 4.1.7 for senders, the class following the code.
import type { VerifyAnswer } from '../../verify/verify-api.js';
import type { PolicyContext } from './context.js';
import { CLASS, replyAddress } from './replies.js';
import { DUNNO, type EvalState, type StepResult } from './types.js';

/** The reason in a 4xx reply is cut here, as Postfix does. */
const MAX_WHY = 250;
/** Bounds on the poll loop whatever main.cf says: a session never waits minutes per RCPT. */
const MAX_POLLS = 10;
const MAX_POLL_DELAY_MS = 60_000;

export async function rejectUnverified(
  ctx: PolicyContext,
  state: EvalState,
  which: 'sender' | 'recipient',
): Promise<StepResult> {
  const raw = which === 'sender' ? state.facts.sender : state.facts.recipient;
  // The null sender cannot be verified; nor can a recipient that is not there yet.
  if (raw === undefined || raw === '') return DUNNO;
  const addr = replyAddress(raw);
  const p = which === 'sender' ? 'unverified_sender' : 'unverified_recipient';
  const cls = which === 'sender' ? CLASS.sender : CLASS.recipient;
  const dsn = which === 'sender' ? '4.1.7' : '4.1.1';
  const tempfail = (code: number, text: string): StepResult => {
    if (tempfailAction(ctx, `${p}_tempfail_action`) === 'defer_if_permit' && !state.warnIfReject) {
      state.deferIfPermit ??= ctx.savedReply(state, code, dsn, text);
      return DUNNO;
    }
    return ctx.reject(state, code, dsn, text);
  };

  const answer = await poll(ctx, addr);
  if (!answer) {
    ctx.logger.warning(`${ctx.config.get('address_verify_service_name')} service failure`);
    return tempfail(450, `<${addr}>: ${cls} rejected: address verification problem`);
  }
  let code = 0;
  if (answer.status === 'todo' || answer.status === 'defer') code = ctx.intParam(`${p}_defer_code`, 450);
  else if (answer.status === 'bounce') code = ctx.intParam(`${p}_reject_code`, 450);
  if (code < 400) return DUNNO;
  const fixed = ctx.config.get(`${p}_reject_reason`).trim();
  const why = fixed !== '' ? fixed : answer.text;
  if (code < 500) return tempfail(code, `<${addr}>: ${cls} rejected: unverified address: ${why.slice(0, MAX_WHY)}`);
  return ctx.reject(state, code, dsn, `<${addr}>: ${cls} rejected: undeliverable address: ${why}`);
}

/** The verify service's answer, or undefined when there is no service or it failed. */
async function poll(ctx: PolicyContext, addr: string): Promise<VerifyAnswer | undefined> {
  const verifier = ctx.verifier();
  if (!verifier) return undefined;
  const polls = Math.min(MAX_POLLS, Math.max(1, ctx.intParam('address_verify_poll_count', 3)));
  let delayMs: number;
  try {
    delayMs = Math.min(MAX_POLL_DELAY_MS, ctx.config.time('address_verify_poll_delay') * 1000);
  } catch {
    delayMs = 3000;
  }
  try {
    for (let i = 1; ; i++) {
      const answer = await verifier.query(addr);
      if (answer.status !== 'todo' || i >= polls) return answer;
      await verifier.settled(addr, delayMs);
    }
  } catch (e) {
    ctx.logger.warning(`address verification query for ${addr}: ${(e as Error).message}`);
    return undefined;
  }
}

/** `defer` or `defer_if_permit` (postconf(5)); anything else is warned about and read as the default. */
function tempfailAction(ctx: PolicyContext, param: string): 'defer' | 'defer_if_permit' {
  const v = ctx.config.get(param).trim().toLowerCase();
  if (v === 'defer' || v === 'defer_if_permit') return v;
  ctx.logger.warning(`${param}: unknown action "${v}"; using defer_if_permit`);
  return 'defer_if_permit';
}
