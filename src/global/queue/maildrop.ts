// The maildrop queue: one file per message, as in Postfix, because postdrop
// (run by sendmail as any user) must be able to drop mail without the mail
// system running and without access to the segment files. A file is written
// under a temporary name, synced, renamed to its queue ID and the directory
// synced, so pickup only ever sees complete files. The file is a 16-byte
// header ("PSTRNDRP", version, 0) followed by one MESSAGE-style record whose
// metadata is a MaildropEnvelope (same framing and CRC as segment records).
import { link, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { fsyncDir } from './fs-sync.js';
import { isQueueId, QueueIdGenerator } from './queue-id.js';
import { checkFrame, RECORD_HEADER_SIZE, RECORD_MAGIC } from './record-format.js';
import { storageErrorFrom } from './storage-error.js';
import type { DsnNotify } from './cleanup-api.js';

/**
 * The one definition of the maildrop file layout. native/build.mjs turns it
 * into a C header for the native sendmail front (native/postern-sendmail.c),
 * so both writers follow it and this module's decoder is the only reader.
 */
export const MAILDROP_FORMAT = {
  magic: 'PSTRNDRP',
  version: 1,
  headerSize: 16,
  recordType: 0x10,
} as const;

const DROP_MAGIC = Buffer.from(MAILDROP_FORMAT.magic, 'latin1');
const DROP_VERSION = MAILDROP_FORMAT.version;
const MAILDROP_TYPE = MAILDROP_FORMAT.recordType;

export interface MaildropEnvelope {
  readonly sender: string;
  readonly recipients: readonly string[];
  readonly arrivalTime: number;
  /** sendmail -F. */
  readonly fullName?: string;
  /** sendmail -t: take recipients from To:/Cc:/Bcc:. */
  readonly extractRecipients?: boolean;
  /** Real uid of the submitting user (Postfix logs it as `uid=`). */
  readonly uid?: number;
  /** sendmail -N: DSN NOTIFY for every recipient. */
  readonly notify?: readonly DsnNotify[];
  /** sendmail -R. */
  readonly ret?: 'FULL' | 'HDRS';
  /** sendmail -V. */
  readonly envid?: string;
  /** sendmail -B. */
  readonly body?: '7BIT' | '8BITMIME';
  /** sendmail -bv: report what would happen to each recipient instead of delivering. */
  readonly verifyOnly?: boolean;
}

export interface MaildropMessage {
  readonly queueId: string;
  readonly envelope: MaildropEnvelope;
  readonly content: Buffer;
  /** Offset of the first content byte in the file (postcat -o). */
  readonly contentOffset: number;
}

export class MaildropError extends Error {
  override name = 'MaildropError';
}

function encode(env: MaildropEnvelope, content: Buffer): Buffer {
  const head = Buffer.alloc(MAILDROP_FORMAT.headerSize);
  DROP_MAGIC.copy(head, 0);
  head.writeUInt32BE(DROP_VERSION, 8);
  const json = Buffer.from(JSON.stringify(env), 'utf8');
  const meta = Buffer.alloc(4 + json.length);
  meta.writeUInt32BE(json.length, 0);
  json.copy(meta, 4);
  const lead = Buffer.alloc(RECORD_HEADER_SIZE + 1);
  lead.writeUInt32BE(RECORD_MAGIC, 0);
  lead.writeUInt32BE(1 + meta.length + content.length, 4);
  lead.writeUInt8(MAILDROP_TYPE, RECORD_HEADER_SIZE);
  let crc = crc32(lead.subarray(4, 8));
  crc = crc32(lead.subarray(RECORD_HEADER_SIZE), crc);
  crc = crc32(meta, crc);
  crc = crc32(content, crc);
  lead.writeUInt32BE(crc, 8);
  return Buffer.concat([head, lead, meta, content]);
}

/** Check and decode a whole maildrop file; `queueId` names it in errors. Throws MaildropError. */
export function decodeMaildrop(queueId: string, buf: Buffer): MaildropMessage {
  const hs = MAILDROP_FORMAT.headerSize;
  if (buf.length < hs || !buf.subarray(0, 8).equals(DROP_MAGIC) || buf.readUInt32BE(8) !== DROP_VERSION) {
    throw new MaildropError(`maildrop/${queueId}: not a maildrop file`);
  }
  const f = checkFrame(buf, hs);
  if (!f.ok || f.end !== buf.length || buf.readUInt8(f.payloadStart) !== MAILDROP_TYPE) {
    throw new MaildropError(`maildrop/${queueId}: damaged (${f.ok ? 'bad record' : f.reason})`);
  }
  const jsonLen = buf.readUInt32BE(f.payloadStart + 1);
  const jsonStart = f.payloadStart + 5;
  if (jsonStart + jsonLen > f.end) throw new MaildropError(`maildrop/${queueId}: damaged (envelope overrun)`);
  let raw: unknown;
  try {
    raw = JSON.parse(buf.subarray(jsonStart, jsonStart + jsonLen).toString('utf8'));
  } catch {
    throw new MaildropError(`maildrop/${queueId}: damaged (envelope)`);
  }
  const o = raw as Record<string, unknown>;
  const ok =
    typeof o === 'object' &&
    o !== null &&
    typeof o.sender === 'string' &&
    Array.isArray(o.recipients) &&
    o.recipients.every((r) => typeof r === 'string') &&
    typeof o.arrivalTime === 'number' &&
    (o.fullName === undefined || typeof o.fullName === 'string') &&
    (o.extractRecipients === undefined || typeof o.extractRecipients === 'boolean') &&
    (o.uid === undefined || typeof o.uid === 'number') &&
    (o.notify === undefined ||
      (Array.isArray(o.notify) &&
        o.notify.every((n) => ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'].includes(n as string)))) &&
    (o.ret === undefined || o.ret === 'FULL' || o.ret === 'HDRS') &&
    (o.envid === undefined || typeof o.envid === 'string') &&
    (o.body === undefined || o.body === '7BIT' || o.body === '8BITMIME') &&
    (o.verifyOnly === undefined || typeof o.verifyOnly === 'boolean');
  if (!ok) throw new MaildropError(`maildrop/${queueId}: damaged (envelope fields)`);
  return {
    queueId,
    envelope: o as unknown as MaildropEnvelope,
    content: buf.subarray(jsonStart + jsonLen, f.end),
    contentOffset: jsonStart + jsonLen,
  };
}

/** Who the file is given to: root's writers hand it to mail_owner, or pickup could not read it. */
export interface MaildropOwner {
  readonly uid: number;
  readonly gid: number;
}

/** postdrop's side: store one message durably in `$queue_directory/maildrop`; returns its queue ID. */
export async function writeMaildrop(
  queueDirectory: string,
  env: MaildropEnvelope,
  content: Buffer,
  owner?: MaildropOwner,
): Promise<string> {
  const dir = join(queueDirectory, 'maildrop');
  await mkdir(dir, { recursive: true, mode: 0o730 });
  const ids = new QueueIdGenerator(false);
  const data = encode(env, content);
  for (let attempt = 0; attempt < 10; attempt++) {
    const id = ids.next();
    const temp = join(dir, `.${id}.${process.pid}`);
    let fh;
    try {
      fh = await open(temp, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw storageErrorFrom(err, `create maildrop file`);
    }
    try {
      await fh.writeFile(data);
      // Before the file gets its name, so pickup never meets a file it cannot read.
      if (owner) await fh.chown(owner.uid, owner.gid);
      await fh.sync();
      await fh.close();
      fh = undefined;
      // link() refuses to replace an existing file, unlike rename(); keeps IDs unique.
      try {
        await link(temp, join(dir, id));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      await unlink(temp);
      await fsyncDir(dir);
      return id;
    } catch (err) {
      throw storageErrorFrom(err, `write maildrop file`);
    } finally {
      await fh?.close();
      await unlink(temp).catch(() => undefined);
    }
  }
  throw storageErrorFrom(new Error('no unique maildrop file name'), 'write maildrop file');
}

/** pickup's side: the queue IDs waiting in maildrop, oldest name first. */
export async function listMaildrop(queueDirectory: string): Promise<string[]> {
  const names = await readdir(join(queueDirectory, 'maildrop')).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return names.filter((n) => isQueueId(n)).sort();
}

/** Read one maildrop file; throws MaildropError when it is damaged (pickup then moves it to corrupt/). */
export async function readMaildrop(queueDirectory: string, queueId: string): Promise<MaildropMessage> {
  if (!isQueueId(queueId)) throw new MaildropError(`maildrop/${queueId}: not a queue ID`);
  return decodeMaildrop(queueId, await readFile(join(queueDirectory, 'maildrop', queueId)));
}

/** After cleanup committed the message: remove the maildrop file. */
export async function removeMaildrop(queueDirectory: string, queueId: string): Promise<void> {
  await unlink(join(queueDirectory, 'maildrop', queueId));
}

/** A damaged maildrop file goes to corrupt/ under its own name, as Postfix does. */
export async function quarantineMaildrop(queueDirectory: string, queueId: string): Promise<void> {
  const corrupt = join(queueDirectory, 'corrupt');
  await mkdir(corrupt, { recursive: true, mode: 0o700 });
  await rename(join(queueDirectory, 'maildrop', queueId), join(corrupt, queueId));
}
