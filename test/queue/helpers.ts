// Shared helpers for queue store tests: temp queue directories and messages
// whose content carries its own checksum, so "intact" is checkable.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { SegmentStore, type NewMessage, type SegmentStoreOptions } from '../../src/global/queue/segment-store.js';

export async function tempQueueDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-queue-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function openStore(
  dir: string,
  extra: Partial<SegmentStoreOptions> = {},
): Promise<{ store: SegmentStore; log: MemoryLogger }> {
  const log = new MemoryLogger('postfix/qmgr');
  const store = await SegmentStore.open({ queueDirectory: dir, logger: log, ...extra });
  return { store, log };
}

/** A message body that names its queue ID and ends with a digest of what precedes it. */
export function selfCheckingContent(id: string, bodyBytes = 200): Buffer {
  const filler = 'x'.repeat(Math.max(0, bodyBytes - 40));
  const head = `Subject: ${id}\r\n\r\n${filler}\r\n`;
  const sum = createHash('sha256').update(head).digest('hex');
  return Buffer.from(`${head}X-Sum: ${sum}\r\n`);
}

export function contentIsIntact(id: string, content: Buffer): boolean {
  const text = content.toString('latin1');
  const m = /X-Sum: ([0-9a-f]{64})\r\n$/.exec(text);
  if (!m) return false;
  const head = text.slice(0, m.index);
  return head.startsWith(`Subject: ${id}\r\n`) && createHash('sha256').update(head).digest('hex') === m[1];
}

export function newMessage(queueId: string, rcpts = ['rcpt@example.org']): NewMessage {
  return {
    queueId,
    arrivalTime: Date.now(),
    sender: 'sender@example.com',
    recipients: rcpts.map((a) => ({ address: a, original: a })),
  };
}

export async function readAll(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}
