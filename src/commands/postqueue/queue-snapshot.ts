// A read-only view of the queue for postqueue, postcat and postsuper: the
// segment files are replayed into a private index without taking the store's
// lock and without repairing anything, so the tools can look at a queue that
// the running mail system owns (Postfix's showq reads queue files the same
// way). A record torn by a write in progress is simply where reading stops;
// a segment reclaimed between listing and reading makes the scan start over.
// maildrop/ files (not yet picked up) are listed too, as showq does.
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { listMaildrop, readMaildrop, type MaildropEnvelope } from '../../global/queue/maildrop.js';
import { QueueIndex } from '../../global/queue/queue-index.js';
import { checkFrame, checkSegmentHeader, decodeRecord, SEGMENT_HEADER_SIZE } from '../../global/queue/record-format.js';
import { segmentFileName } from '../../global/queue/segment-writer.js';
import type { QueuedMessage } from '../../global/queue/store-api.js';

/** A message in the store, with where its content lies. */
export interface StoredEntry {
  readonly kind: 'store';
  readonly message: QueuedMessage;
  readonly segment: number;
  readonly contentOffset: number;
}

/** A file in maildrop/ that pickup has not taken yet. */
export interface MaildropEntry {
  readonly kind: 'maildrop';
  readonly queueId: string;
  readonly size: number;
  readonly mtime: number;
  /** Undefined when the file cannot be read by this user or is damaged. */
  readonly envelope?: MaildropEnvelope;
  readonly content?: Buffer;
}

export type QueueEntry = StoredEntry | MaildropEntry;

const SEGMENT_NAME = /^\d{8}$/;
const ATTEMPTS = 5;

async function replayAll(segDir: string): Promise<QueueIndex> {
  const all = await readdir(segDir).catch((err: NodeJS.ErrnoException) => {
    // No segments directory yet is an empty queue; anything else (EACCES) the caller must see.
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const names = all.filter((n) => SEGMENT_NAME.test(n)).sort();
  const index = new QueueIndex();
  for (const name of names) {
    const n = Number.parseInt(name, 10);
    const buf = await readFile(join(segDir, name));
    if (buf.length < SEGMENT_HEADER_SIZE || checkSegmentHeader(buf) !== n) continue;
    let off = SEGMENT_HEADER_SIZE;
    while (off < buf.length) {
      const f = checkFrame(buf, off);
      // Damage is the store's to repair at its next start; a torn tail is a write in progress.
      if (!f.ok) break;
      const rec = decodeRecord(buf, f.payloadStart, f.end);
      if (typeof rec !== 'string') index.apply(rec, n);
      off = f.end;
    }
  }
  return index;
}

/** The messages in the store now (any state except those the store set aside as corrupt). */
export async function readStoreSnapshot(queueDirectory: string): Promise<StoredEntry[]> {
  const segDir = join(queueDirectory, 'segments');
  for (let attempt = 1; ; attempt++) {
    try {
      const index = await replayAll(segDir);
      const out: StoredEntry[] = [];
      for (const [id, e] of index.entries) {
        const message = index.view(id);
        if (message) out.push({ kind: 'store', message, segment: e.segment, contentOffset: e.contentOffset });
      }
      return out;
    } catch (err) {
      // A segment unlinked by reclamation while we read: the next scan sees the relocated copy.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= ATTEMPTS) throw err;
    }
  }
}

export async function readMaildropSnapshot(queueDirectory: string): Promise<MaildropEntry[]> {
  const out: MaildropEntry[] = [];
  let ids: string[];
  try {
    ids = await listMaildrop(queueDirectory);
  } catch {
    return out; // maildrop/ not listable by this user (as in Postfix, it is write-only for users)
  }
  for (const id of ids) {
    try {
      const st = await stat(join(queueDirectory, 'maildrop', id));
      let parsed: Awaited<ReturnType<typeof readMaildrop>> | undefined;
      try {
        parsed = await readMaildrop(queueDirectory, id);
      } catch {
        parsed = undefined;
      }
      out.push({
        kind: 'maildrop',
        queueId: id,
        size: parsed ? parsed.content.length : st.size,
        mtime: st.mtimeMs,
        ...(parsed ? { envelope: parsed.envelope, content: parsed.content } : {}),
      });
    } catch {
      // picked up while we looked
    }
  }
  return out;
}

/** The content of a stored message, read straight from its segment. */
export async function readStoredContent(queueDirectory: string, e: StoredEntry): Promise<Buffer> {
  const fh = await open(join(queueDirectory, 'segments', segmentFileName(e.segment)), 'r');
  try {
    const buf = Buffer.alloc(e.message.size);
    const { bytesRead } = await fh.read(buf, 0, buf.length, e.contentOffset);
    if (bytesRead !== buf.length) throw new Error(`queue file ${e.message.queueId}: content truncated`);
    return buf;
  } finally {
    await fh.close();
  }
}

/** Everything in the queue, Postfix's showq order: maildrop, hold, incoming, active, deferred. */
export async function readQueue(queueDirectory: string): Promise<QueueEntry[]> {
  return [...(await readMaildropSnapshot(queueDirectory)), ...showqOrder(await readStoreSnapshot(queueDirectory))];
}

const SHOWQ_ORDER = ['hold', 'incoming', 'active', 'deferred'];

/** The queues showq reports, in its order; oldest first within a queue. */
export function showqOrder(stored: readonly StoredEntry[]): StoredEntry[] {
  return stored
    .filter((e) => SHOWQ_ORDER.includes(e.message.state))
    .sort(
      (a, b) =>
        SHOWQ_ORDER.indexOf(a.message.state) - SHOWQ_ORDER.indexOf(b.message.state) ||
        a.message.arrivalTime - b.message.arrivalTime ||
        a.message.queueId.localeCompare(b.message.queueId),
    );
}

export function queueName(e: QueueEntry): string {
  return e.kind === 'maildrop' ? 'maildrop' : e.message.state;
}

export function entryId(e: QueueEntry): string {
  return e.kind === 'maildrop' ? e.queueId : e.message.queueId;
}
