// access(5) results: what a value found in a check_*_access table (or returned
// by a policy service) means. OK, REJECT, DEFER, 4NN/5NN text, DUNNO, HOLD,
// DISCARD, FILTER, REDIRECT, PREPEND, BCC, WARN, INFO, DEFER_IF_REJECT,
// DEFER_IF_PERMIT, and anything else as a restriction list or class name.
import { splitList } from '../../../global/params/config.js';
import { splitDsn } from './replies.js';
import type { PolicyContext } from './context.js';
import { DUNNO, OK, type EvalState, type StepResult } from './types.js';

export interface AccessSubject {
  /** The name shown in `<name>: Class rejected: ...` replies. */
  readonly name: string;
  readonly cls: string;
  /** Where the value came from, for warnings: `hash:/etc/postfix/access` or `policy service inet:...`. */
  readonly source: string;
  /** OK is refused (treated as DUNNO) for the MX/NS/A checks, as in Postfix. */
  readonly allowOk: boolean;
}

/** Evaluates a restriction list found in a table value (restriction classes included). */
export type NestedEvaluator = (state: EvalState, restrictions: string[]) => Promise<StepResult>;

const MAX_TEXT = 1000;

export async function applyAccessValue(
  ctx: PolicyContext,
  state: EvalState,
  rawValue: string,
  subject: AccessSubject,
  nested: NestedEvaluator,
): Promise<StepResult> {
  const value = rawValue.trim().slice(0, MAX_TEXT);
  const m = /^(\S+)\s*(.*)$/s.exec(value);
  const word = m?.[1] ?? '';
  const text = m?.[2] ?? '';
  const cmd = word.toUpperCase();
  const prefix = `<${subject.name}>: ${subject.cls}`;

  // `4NN text` / `5NN text`; other numbers are not replies (an all-digit value means OK).
  const code = /^([45])(\d\d)$/.exec(word);
  if (code) {
    const n = Number.parseInt(word, 10);
    const d = splitDsn(text);
    return ctx.reject(state, n, d.dsn ?? `${code[1]}.7.1`, `${prefix} rejected: ${d.rest || 'Access denied'}`);
  }
  if (cmd === 'OK' || /^\d+$/.test(value)) {
    if (subject.allowOk) return OK;
    ctx.logger.warning(`${subject.source}: action "${word}" is not allowed for this check; treating it as DUNNO`);
    return DUNNO;
  }
  switch (cmd) {
    case 'DUNNO':
      return DUNNO;
    case 'REJECT': {
      const d = splitDsn(text);
      const c = ctx.intParam('access_map_reject_code', 554);
      return ctx.reject(state, c, d.dsn ?? '5.7.1', `${prefix} rejected: ${d.rest || 'Access denied'}`);
    }
    case 'DEFER': {
      const d = splitDsn(text);
      const c = ctx.intParam('access_map_defer_code', 450);
      return ctx.reject(state, c, d.dsn ?? '4.7.1', `${prefix} rejected: ${d.rest || 'Access denied'}`);
    }
    case 'DEFER_IF_REJECT': {
      const d = splitDsn(text);
      const why = `${prefix} rejected: ${d.rest || 'Service unavailable'}`;
      state.deferIfReject ??= ctx.savedReply(state, ctx.intParam('defer_code', 450), d.dsn ?? '4.7.1', why);
      return DUNNO;
    }
    case 'DEFER_IF_PERMIT': {
      const d = splitDsn(text);
      const why = `${prefix} rejected: ${d.rest || 'Service unavailable'}`;
      state.deferIfPermit ??= ctx.savedReply(state, ctx.intParam('defer_code', 450), d.dsn ?? '4.7.1', why);
      return DUNNO;
    }
    case 'HOLD':
      state.effects.push({ kind: 'hold', reason: text || 'triggers HOLD action' });
      ctx.logWhatsup(state, 'hold', `${prefix} ${text || 'triggers HOLD action'}`);
      return DUNNO;
    case 'DISCARD':
      state.effects.push({ kind: 'discard', reason: text || 'triggers DISCARD action' });
      ctx.logWhatsup(state, 'discard', `${prefix} ${text || 'triggers DISCARD action'}`);
      // Postfix stops evaluating: the message is accepted and thrown away.
      return OK;
    case 'FILTER':
      if (!/^[^:\s]+:\S*$/.test(text))
        return badValue(
          ctx,
          subject,
          text === '' ? 'has FILTER entry without value' : 'requires transport:destination',
        );
      state.effects.push({ kind: 'filter', transport: text });
      ctx.logWhatsup(state, 'filter', `${prefix} triggers FILTER ${text}`);
      return DUNNO;
    case 'REDIRECT':
      if (text === '' || /\s/.test(text)) return badValue(ctx, subject, 'requires user@domain target');
      state.effects.push({ kind: 'redirect', address: text });
      ctx.logWhatsup(state, 'redirect', `${prefix} triggers REDIRECT ${text}`);
      return DUNNO;
    case 'BCC':
      if (text === '' || /\s/.test(text)) return badValue(ctx, subject, 'requires user@domain target');
      state.effects.push({ kind: 'bcc', address: text });
      ctx.logWhatsup(state, 'bcc', `${prefix} triggers BCC ${text}`);
      return DUNNO;
    case 'PREPEND':
      // A header must be `Name: value` with a printable name, or cleanup would write garbage.
      if (!/^[!-9;-~]+:/.test(text)) return badValue(ctx, subject, 'has PREPEND entry without valid header text');
      state.effects.push({ kind: 'prepend', header: text });
      return DUNNO;
    case 'WARN':
      ctx.logWhatsup(state, 'warn', text);
      return DUNNO;
    case 'INFO':
      ctx.logWhatsup(state, 'info', text);
      return DUNNO;
    default:
      // Anything else is a restriction list (or class name) to evaluate in place.
      return nested(state, splitRestrictions(value));
  }
}

/** A malformed action is logged and skipped, as Postfix does; the next restriction decides. */
function badValue(ctx: PolicyContext, subject: AccessSubject, problem: string): StepResult {
  ctx.logger.warning(`access table ${subject.source} entry "${subject.name}" ${problem}`);
  return DUNNO;
}

/** A restriction list splits like any Postfix list: `{ ... }` groups (check_policy_service options) stay whole. */
export const splitRestrictions = splitList;
