// The core worker's end of an smtpd worker's link (cleanup-link.ts is the
// other end): what Postfix's cleanup(8) and flush(8) servers do for smtpd
// processes. Transactions run on the core's real cleanup service; queue IDs
// are reserved for the peer in batches and taken over by the transaction
// that names one; ETRN reaches qmgr, reject_unverified_* verify(8). When the link closes (the smtpd worker
// died or was stopped), every transaction it had not committed is aborted
// and its unused queue IDs are released: an unacknowledged message is never
// left half-queued.
import type { Socket } from 'node:net';
import type { Logger } from '../../global/log/logger.js';
import type {
  CleanupOpenRequest,
  CleanupPolicyActions,
  CleanupService,
  CleanupTransaction,
  CleanupVerdict,
  EnvelopeRecipient,
} from '../../global/queue/cleanup-api.js';
import type { QueueFlusher } from '../../global/queue/service-keys.js';
import type { AddressVerifier } from '../verify/verify-api.js';
import { CorkedWriter, F, readLinkFrames, type LinkFrame } from './link-frame.js';
import { serveVerifyFrame } from './verify-link.js';
import { isObject } from '../../util/is-object.js';

/** smtpd → core frames carry at most 64 KiB of content; BEGIN carries the envelope (recipients are bounded by smtpd). */
export const MAX_FRAME_TO_CORE = 16 * 1024 * 1024;
const LINK_ORIGINS: ReadonlySet<string> = new Set(['smtpd', 'bounce']);
/** Queue IDs one peer may hold unused; a peer asking beyond this gets none. */
const MAX_HANDED_IDS = 4096;

export interface CoreLinkDeps {
  /** Looked up per use: cleanup may restart under `postfix reload`. */
  readonly cleanup: () => CleanupService | undefined;
  readonly flusher: () => QueueFlusher | undefined;
  /** verify(8), for reject_unverified_* in the smtpd worker. */
  readonly verify: () => AddressVerifier | undefined;
  readonly log: Logger;
}

/** A transaction whose open() has not resolved yet collects its operations here. */
interface Entry {
  tx: CleanupTransaction | undefined;
  pending: ((tx: CleanupTransaction) => void)[];
  /** The open failed or an operation threw: later frames for it are dropped. */
  dead: boolean;
}

function isRecipient(v: unknown): v is EnvelopeRecipient {
  return isObject(v) && typeof v.address === 'string';
}

function parseJson(payload: Buffer): unknown {
  return JSON.parse(payload.toString('utf8'));
}

export function serveSmtpdLink(socket: Socket, deps: CoreLinkDeps): void {
  const { log } = deps;
  const out = new CorkedWriter(socket);
  const txs = new Map<number, Entry>();
  /** Queue IDs reserved for the peer and not yet begun or released. */
  const handed = new Set<string>();
  let closed = false;

  const fail = (id: number, entry: Entry | undefined, e: unknown): void => {
    txs.delete(id);
    if (entry) {
      entry.dead = true;
      entry.pending = [];
      void entry.tx?.abort().catch(() => undefined);
    }
    out.send(F.FAILED, id, (e as Error).message);
  };

  const answer = (id: number, v: CleanupVerdict): void => {
    if (v.status === 'queued') out.send(F.QUEUED, id);
    else if (v.status === 'discarded') out.send(F.DISCARDED, id);
    else out.send(F.REJECTED, id, JSON.stringify(v.reply));
  };

  /** Run `op` on the transaction now, or once its open resolved; a throw fails the transaction. */
  const withTx = (id: number, op: (tx: CleanupTransaction) => void): void => {
    const entry = txs.get(id);
    if (!entry) {
      out.send(F.FAILED, id, 'unknown transaction');
      return;
    }
    const run = (tx: CleanupTransaction): void => {
      try {
        op(tx);
      } catch (e) {
        fail(id, entry, e);
      }
    };
    if (entry.tx) run(entry.tx);
    else entry.pending.push(run);
  };

  const begin = (id: number, payload: Buffer): void => {
    const body = parseJson(payload);
    if (!isObject(body) || !isObject(body.req) || !Array.isArray(body.rcpts) || !body.rcpts.every(isRecipient))
      throw new Error('malformed BEGIN frame');
    const req = body.req as unknown as CleanupOpenRequest;
    // smtpd submits what clients send, and the notify_classes transcripts it mails to the postmaster.
    if (typeof req.sender !== 'string' || typeof req.queueId !== 'string' || !LINK_ORIGINS.has(req.origin))
      throw new Error('malformed BEGIN frame');
    if (txs.has(id)) throw new Error(`transaction ${id} begun twice`);
    const entry: Entry = { tx: undefined, pending: [], dead: false };
    txs.set(id, entry);
    if (!handed.delete(req.queueId)) {
      fail(id, entry, new Error(`queue ID ${req.queueId} was not reserved for this link`));
      return;
    }
    const svc = deps.cleanup();
    if (!svc) {
      fail(id, entry, new Error('cleanup service is not running'));
      return;
    }
    const rcpts = body.rcpts;
    svc.open(req).then(
      (tx) => {
        if (entry.dead || closed) {
          void tx.abort().catch(() => undefined);
          return;
        }
        try {
          for (const r of rcpts) tx.addRecipient(r);
        } catch (e) {
          fail(id, entry, e);
          return;
        }
        entry.tx = tx;
        for (const run of entry.pending.splice(0)) {
          if (entry.dead) break;
          run(tx);
        }
      },
      (e: unknown) => fail(id, entry, e),
    );
  };

  const commit = (id: number, actions: CleanupPolicyActions | undefined): void => {
    withTx(id, (tx) => {
      txs.delete(id);
      tx.commit(actions).then(
        (v) => answer(id, v),
        (e: unknown) => out.send(F.FAILED, id, (e as Error).message),
      );
    });
  };

  const onFrame = (f: LinkFrame): void => {
    const id = f.id;
    switch (f.type) {
      case F.BEGIN:
        begin(id, f.payload);
        return;
      case F.RCPT: {
        const list = parseJson(f.payload);
        if (!Array.isArray(list) || !list.every(isRecipient)) throw new Error('malformed RCPT frame');
        withTx(id, (tx) => {
          for (const r of list) tx.addRecipient(r);
        });
        return;
      }
      case F.DATA: {
        const entry = txs.get(id);
        if (entry?.tx && !entry.dead) {
          try {
            // A view into a socket chunk that nothing reuses: cleanup may keep it.
            entry.tx.write(f.payload);
          } catch (e) {
            fail(id, entry, e);
          }
          return;
        }
        // the payload is a view into the read buffer: keep a copy until the transaction is open
        const copy = Buffer.from(f.payload);
        withTx(id, (tx) => tx.write(copy));
        return;
      }
      case F.COMMIT: {
        let actions: CleanupPolicyActions | undefined;
        if (f.payload.length > 0) {
          const v = parseJson(f.payload);
          if (!isObject(v)) throw new Error('malformed COMMIT frame');
          actions = v;
        }
        commit(id, actions);
        return;
      }
      case F.ABORT: {
        const entry = txs.get(id);
        txs.delete(id);
        if (!entry) return;
        entry.dead = true;
        entry.pending = [];
        void entry.tx?.abort().catch(() => undefined);
        return;
      }
      case F.RELEASE: {
        const ids = f.payload
          .toString('latin1')
          .split(' ')
          .filter((q) => handed.delete(q));
        deps.cleanup()?.releaseQueueIds?.(ids);
        return;
      }
      case F.WANT: {
        const svc = deps.cleanup();
        const count = Math.min(id, MAX_HANDED_IDS - handed.size);
        const ids = svc?.reserveQueueIds && count > 0 ? svc.reserveQueueIds(count) : [];
        for (const q of ids) handed.add(q);
        out.send(F.IDS, 0, ids.join(' '));
        return;
      }
      case F.FLUSH: {
        const site = f.payload.toString('utf8');
        const qmgr = deps.flusher();
        if (qmgr) qmgr.flush(site === '' ? undefined : site);
        else log.warning('ETRN from the smtpd process: the queue manager is not running');
        return;
      }
      case F.VQUERY:
      case F.VWAIT:
        serveVerifyFrame(f, deps.verify(), out);
        return;
      default:
        throw new Error(`unexpected frame type ${f.type}`);
    }
  };

  readLinkFrames(socket, MAX_FRAME_TO_CORE, onFrame, (e) =>
    log.warning(`smtpd channel: ${e.message}; closing the channel`),
  );
  // The smtpd worker went away: its open transactions can never commit.
  socket.on('close', () => {
    closed = true;
    for (const entry of txs.values()) {
      entry.dead = true;
      entry.pending = [];
      void entry.tx?.abort().catch(() => undefined);
    }
    txs.clear();
    deps.cleanup()?.releaseQueueIds?.([...handed]);
    handed.clear();
  });
  socket.on('error', (e) => log.warning(`smtpd channel: ${e.message}`));
  socket.resume();
}
