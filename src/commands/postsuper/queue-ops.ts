// What postsuper(1) does to queued mail, as one function over the QueueStore
// API so the same code runs in two places: inside the running mail system
// (the flush service executes it on the live store when postsuper asks over
// the control socket) and in postsuper itself when the mail system is down
// (it then opens the store under the queue lock). Each message changed is
// reported with Postfix's wording (`ID: removed`, `ID: placed on hold`, ...)
// and the totals as postsuper prints them.
import { writeMaildrop, type MaildropOwner } from '../../global/queue/maildrop.js';
import type { QueuedMessage, QueueStore } from '../../global/queue/store-api.js';

/** `expire` is -e; `expire-release` is -f (expire, and release from hold). */
export type SuperAction = 'delete' | 'hold' | 'release' | 'requeue' | 'expire' | 'expire-release';

export interface SuperRequest {
  readonly action: SuperAction;
  /** Queue IDs, or 'ALL'. */
  readonly ids: readonly string[] | 'ALL';
  /** Queue names to act on; empty means the action's default queues. */
  readonly queues: readonly string[];
}

export interface SuperResult {
  /** One line per message, e.g. `ABC123: removed`. */
  readonly lines: string[];
  readonly count: number;
}

/** Which queues an action looks in when none are named (postsuper(1)). */
const DEFAULT_QUEUES: Record<SuperAction, readonly string[]> = {
  delete: ['hold', 'incoming', 'active', 'deferred'],
  hold: ['incoming', 'active', 'deferred'],
  release: ['hold'],
  requeue: ['hold', 'incoming', 'active', 'deferred'],
  expire: ['hold', 'incoming', 'active', 'deferred'],
  'expire-release': ['hold', 'incoming', 'active', 'deferred'],
};

const DONE_TEXT: Record<SuperAction, string> = {
  delete: 'removed',
  hold: 'placed on hold',
  release: 'released from hold',
  requeue: 'requeued',
  expire: 'expired',
  'expire-release': 'expired',
};

const SUMMARY_TEXT: Record<SuperAction, string> = {
  delete: 'Deleted',
  hold: 'Placed on hold',
  release: 'Released from hold',
  requeue: 'Requeued',
  expire: 'Force-expired',
  'expire-release': 'Force-expired',
};

export const QUEUE_NAMES = ['maildrop', 'hold', 'incoming', 'active', 'deferred'];

/** `postsuper: Deleted: 2 messages` (without the program name). */
export function summaryLine(action: SuperAction, count: number): string {
  return `${SUMMARY_TEXT[action]}: ${count} message${count === 1 ? '' : 's'}`;
}

/** `owner`: who requeued maildrop files go to (postsuper as root with the mail system down). */
export async function applySuper(
  store: QueueStore,
  queueDirectory: string,
  req: SuperRequest,
  owner?: MaildropOwner,
): Promise<SuperResult> {
  const queues = new Set(req.queues.length > 0 ? req.queues : DEFAULT_QUEUES[req.action]);
  const targets: QueuedMessage[] = [];
  if (req.ids === 'ALL') {
    for (const m of store.list()) if (queues.has(m.state)) targets.push(m);
  } else {
    for (const id of new Set(req.ids)) {
      const m = store.get(id);
      if (m && queues.has(m.state)) targets.push(m);
    }
  }
  const lines: string[] = [];
  let count = 0;
  for (const m of targets) {
    let extra: string | undefined;
    try {
      extra = await act(store, queueDirectory, req.action, m, owner);
    } catch (err) {
      // The message went away in the meantime (delivered, or another postsuper): not counted.
      if (/no such message/.test(String(err))) continue;
      throw err;
    }
    lines.push(`${m.queueId}: ${DONE_TEXT[req.action]}`);
    if (extra !== undefined) lines.push(`${m.queueId}: ${extra}`);
    count++;
  }
  return { lines, count };
}

/** Performs the action; returns a second line to print for the message, if any. */
async function act(
  store: QueueStore,
  queueDirectory: string,
  action: SuperAction,
  m: QueuedMessage,
  owner: MaildropOwner | undefined,
): Promise<string | undefined> {
  switch (action) {
    case 'delete':
      await store.remove(m.queueId);
      return undefined;
    case 'hold':
      await store.setState(m.queueId, 'hold');
      return undefined;
    case 'release':
      // Postfix moves released mail to deferred with no backoff, so qmgr tries it at its next scan.
      await store.setState(m.queueId, 'deferred', { nextAttempt: Date.now() });
      return undefined;
    case 'requeue':
      await requeue(store, queueDirectory, m, owner);
      return undefined;
    case 'expire':
      // qmgr returns it at its next attempt; held mail stays held until released (postsuper(1)).
      await store.setState(m.queueId, m.state, { expired: true });
      return undefined;
    case 'expire-release':
      if (m.state !== 'hold') {
        await store.setState(m.queueId, m.state, { expired: true });
        return undefined;
      }
      await store.setState(m.queueId, 'deferred', { expired: true, nextAttempt: Date.now() });
      return DONE_TEXT.release;
  }
}

/**
 * As Postfix: the message goes back through maildrop → pickup → cleanup, so
 * rewriting and virtual mappings apply again. Only pending recipients go, in
 * their original form. The maildrop copy is durable before the queued one is
 * removed, so a crash in between duplicates rather than loses.
 */
async function requeue(
  store: QueueStore,
  queueDirectory: string,
  m: QueuedMessage,
  owner: MaildropOwner | undefined,
): Promise<void> {
  const pending = m.recipients.filter((r) => !r.done);
  if (pending.length > 0) {
    const parts: Buffer[] = [];
    for await (const c of store.openContent(m.queueId)) parts.push(c);
    await writeMaildrop(
      queueDirectory,
      { sender: m.sender, recipients: pending.map((r) => r.original || r.address), arrivalTime: m.arrivalTime },
      Buffer.concat(parts),
      owner,
    );
  }
  await store.remove(m.queueId);
}
