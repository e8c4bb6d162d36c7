// The queue control channel between the queue tools and the running mail
// system (Postfix's public/flush and postsuper's direct queue access rolled
// into two unix sockets, because only the core process may change the live
// queue store). One request line of JSON, one answer line of JSON, close.
//
//   $queue_directory/public/flush      {op:"flush", site?, queueId?}   anyone (postqueue -f/-s/-i, sendmail -q)
//                                      {op:"showq"}                    anyone (postqueue -p/-j, as Postfix's showq)
//   $queue_directory/private/postsuper {op:"super", action, ids, queues} mail_owner and root only (directory mode 0700)
//
// Answers: {ok:true, lines:[...], count} or {ok:false, error}.
import type { SuperAction, SuperRequest } from '../../commands/postsuper/queue-ops.js';

export const FLUSH_SOCKET = 'public/flush';
export const SUPER_SOCKET = 'private/postsuper';
/** Longest request line (a `postsuper -d -` with many IDs fits). */
export const MAX_REQUEST = 4 * 1024 * 1024;
const MAX_IDS = 100_000;

export type ControlRequest =
  | { readonly op: 'flush'; readonly site?: string; readonly queueId?: string }
  /** postqueue -p/-j for users who may not read the queue files: one JSON ShowqMessage per answer line. */
  | { readonly op: 'showq' }
  | ({ readonly op: 'super' } & SuperRequest);

export type ControlAnswer =
  | { readonly ok: true; readonly lines: readonly string[]; readonly count: number }
  | { readonly ok: false; readonly error: string };

const ACTIONS: readonly SuperAction[] = ['delete', 'hold', 'release', 'requeue', 'expire', 'expire-release'];

const isStr = (v: unknown): v is string => typeof v === 'string';

/** Strict decoder: unknown ops, fields or types are refused. */
export function decodeRequest(line: string): ControlRequest | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const o = raw as Record<string, unknown>;
  const keys = Object.keys(o);
  if (o.op === 'showq') return keys.length === 1 ? { op: 'showq' } : undefined;
  if (o.op === 'flush') {
    if (!keys.every((k) => ['op', 'site', 'queueId'].includes(k))) return undefined;
    if ((o.site !== undefined && !isStr(o.site)) || (o.queueId !== undefined && !isStr(o.queueId))) return undefined;
    return {
      op: 'flush',
      ...(isStr(o.site) ? { site: o.site.slice(0, 255) } : {}),
      ...(isStr(o.queueId) ? { queueId: o.queueId.slice(0, 64) } : {}),
    };
  }
  if (o.op === 'super') {
    if (!keys.every((k) => ['op', 'action', 'ids', 'queues'].includes(k))) return undefined;
    if (!ACTIONS.includes(o.action as SuperAction)) return undefined;
    const ids = o.ids;
    const idsOk = ids === 'ALL' || (Array.isArray(ids) && ids.length <= MAX_IDS && ids.every(isStr));
    const queues = o.queues;
    if (!idsOk || !Array.isArray(queues) || !queues.every(isStr) || queues.length > 8) return undefined;
    return { op: 'super', action: o.action as SuperAction, ids: ids, queues: queues };
  }
  return undefined;
}

export function decodeAnswer(line: string): ControlAnswer | undefined {
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    if (o.ok === true && Array.isArray(o.lines) && o.lines.every(isStr) && typeof o.count === 'number') {
      return { ok: true, lines: o.lines, count: o.count };
    }
    if (o.ok === false && isStr(o.error)) return { ok: false, error: o.error };
  } catch {
    // fall through
  }
  return undefined;
}
