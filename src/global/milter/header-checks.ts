// milter_header_checks (postconf(5)): the headers milters add or change are
// not seen by header_checks but by these tables, with header_checks(5)
// actions (PREPEND is not implemented, as in Postfix 3.7). Each decision is
// returned for the caller to apply and log in its own daemon's shape.
import type { Dict } from '../dict/dict-api.js';
import type { SmtpReply } from '../smtp/reply.js';
import { parseAction } from '../../daemons/cleanup/checks/actions.js';
import type { MilterMessage } from './message.js';

export interface MilterHeaderDecision {
  reject?: SmtpReply;
  discard?: boolean;
  hold?: boolean;
  filter?: string;
  redirect?: string;
  bcc: string[];
}

/** One log event: the action word (`reject`, `hold`, `warning`...), the header and the detail text. */
export type HeaderCheckLog = (action: string, header: string, detail: string) => void;

/** First answer of the tables (Postfix's maps semantics); lookups that fail throw. */
async function lookup(tables: readonly Dict[], key: string): Promise<string | undefined> {
  for (const t of tables) {
    const v = await t.lookup(key);
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * Run the tables over every header a milter added or changed, editing `msg`
 * for IGNORE and REPLACE. Stops at the first REJECT or DISCARD.
 */
export async function milterHeaderChecks(
  msg: MilterMessage,
  tables: readonly Dict[],
  log: HeaderCheckLog,
  warn: (text: string) => void,
): Promise<MilterHeaderDecision> {
  const out: MilterHeaderDecision = { bcc: [] };
  if (tables.length === 0) return out;
  for (let i = 0; i < msg.headers.length; i++) {
    const h = msg.headers[i];
    if (!h?.fromMilter) continue;
    h.fromMilter = false;
    const text = `${h.name}:${h.value}`;
    const value = await lookup(tables, text);
    if (value === undefined) continue;
    const parsed = parseAction(value, true, 'milter_header_checks');
    if (parsed.warning) warn(parsed.warning);
    const a = parsed.action;
    switch (a.kind) {
      case 'reject':
        log('reject', text, `${a.reply.dsn} ${a.reply.text}`);
        out.reject = a.reply;
        return out;
      case 'discard':
        log('discard', text, a.text);
        out.discard = true;
        return out;
      case 'hold':
        log('hold', text, a.text);
        out.hold = true;
        break;
      case 'ignore':
        msg.headers.splice(i--, 1);
        break;
      case 'replace': {
        const colon = a.text.indexOf(':');
        msg.headers[i] = { name: a.text.slice(0, colon).trim(), value: a.text.slice(colon + 1) };
        log('replace', text, a.text);
        break;
      }
      case 'filter':
        log('filter', text, a.nexthop);
        out.filter = a.nexthop;
        break;
      case 'redirect':
        log('redirect', text, a.address);
        out.redirect = a.address;
        break;
      case 'bcc':
        out.bcc.push(a.address);
        break;
      case 'warn':
        log('warning', text, a.text);
        break;
      case 'info':
        log('info', text, a.text);
        break;
      case 'prepend':
        warn('milter_header_checks: PREPEND action is not implemented');
        break;
      case 'dunno':
        break;
    }
  }
  return out;
}
