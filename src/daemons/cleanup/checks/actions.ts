// header_checks(5) actions: the right-hand side of a header_checks,
// mime_header_checks, nested_header_checks or body_checks table entry,
// reduced to a typed action. Malformed arguments produce the warning text
// cleanup(8) logs and the action is ignored, as Postfix does
// (cleanup_message.c's cleanup_act()).
import { reply, type SmtpReply } from '../../../global/smtp/reply.js';

export type CheckAction =
  | { readonly kind: 'dunno' }
  | { readonly kind: 'reject'; readonly reply: SmtpReply }
  | { readonly kind: 'discard'; readonly text: string }
  | { readonly kind: 'hold'; readonly text: string }
  | { readonly kind: 'ignore' }
  | { readonly kind: 'replace'; readonly text: string }
  | { readonly kind: 'prepend'; readonly text: string }
  | { readonly kind: 'redirect'; readonly address: string }
  | { readonly kind: 'bcc'; readonly address: string }
  | { readonly kind: 'filter'; readonly nexthop: string }
  | { readonly kind: 'warn'; readonly text: string }
  | { readonly kind: 'info'; readonly text: string };

export interface ParsedAction {
  readonly action: CheckAction;
  /** A configuration error to log as a warning (the action is then `dunno`). */
  readonly warning?: string;
}

const DUNNO: CheckAction = { kind: 'dunno' };

/** The generic text cleanup(8) uses when REJECT has none. */
export const CONTENT_REJECTED = 'message content rejected';

const DSN_RE = /^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)/;

/** `[d.d.d ]text` → reply; without an explicit DSN the default 5.7.1 applies. */
export function rejectReply(text: string): SmtpReply {
  const t = text === '' ? CONTENT_REJECTED : text;
  const m = DSN_RE.exec(t);
  if (m && m[1] !== '2') {
    const dsn = `${m[1] ?? '5'}.${m[2] ?? '7'}.${m[3] ?? '1'}`;
    return reply(m[1] === '4' ? 451 : 550, dsn, t.slice(m[0].length) || CONTENT_REJECTED);
  }
  return reply(550, '5.7.1', t);
}

/** `name: value` with a valid field name, as PREPEND/REPLACE need in header tables. */
function isHeaderText(text: string): boolean {
  return /^[\x21-\x39\x3b-\x7e]+[ \t]*:/.test(text);
}

/**
 * Decode a table result. `isHeader` says whether the input was a header
 * (PREPEND/REPLACE then need `name: value`); `mapName` is the parameter
 * name, used in warnings.
 */
export function parseAction(value: string, isHeader: boolean, mapName: string): ParsedAction {
  const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(value);
  const command = (m?.[1] ?? '').toUpperCase();
  const arg = (m?.[2] ?? '').trim();
  const bad = (warning: string): ParsedAction => ({ action: DUNNO, warning });
  switch (command) {
    case 'REJECT':
      return { action: { kind: 'reject', reply: rejectReply(arg) } };
    case 'DISCARD':
      return { action: { kind: 'discard', text: arg } };
    case 'HOLD':
      return { action: { kind: 'hold', text: arg } };
    case 'IGNORE':
      return { action: { kind: 'ignore' } };
    case 'WARN':
      return { action: { kind: 'warn', text: arg } };
    case 'INFO':
      return { action: { kind: 'info', text: arg } };
    case 'DUNNO':
    case 'OK':
      return { action: DUNNO };
    case 'REDIRECT':
      if (!arg.includes('@')) return bad(`bad REDIRECT target "${arg}" in ${mapName} map -- need user@domain`);
      return { action: { kind: 'redirect', address: arg } };
    case 'BCC':
      if (!arg.includes('@')) return bad(`bad BCC address "${arg}" in ${mapName} map -- need user@domain`);
      return { action: { kind: 'bcc', address: arg } };
    case 'FILTER':
      if (arg === '') return bad(`missing FILTER command argument in ${mapName} map`);
      if (!arg.includes(':')) return bad(`bad FILTER command ${arg} in ${mapName} -- need transport:destination`);
      return { action: { kind: 'filter', nexthop: arg } };
    case 'PREPEND':
    case 'REPLACE': {
      const kind = command === 'PREPEND' ? 'prepend' : 'replace';
      if (isHeader && (arg === '' || !isHeaderText(arg))) {
        return bad(`bad ${command} header text "${arg}" in ${mapName} map -- need "headername: headervalue"`);
      }
      return { action: { kind, text: arg } };
    }
    default:
      return bad(`unknown command in ${mapName} map: ${value}`);
  }
}
