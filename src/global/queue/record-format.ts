// The byte format of queue segment files (docs/ARCHITECTURE.md, "The queue on
// disk", is the reference). A segment starts with a 16-byte file header; then
// records follow back to back:
//
//   magic u32 BE 0x51524543 ("QREC") | length u32 BE | crc32 u32 BE | payload
//
// `length` counts the payload; the CRC-32 covers the length field and the
// payload, so a torn length is caught too. The payload's first byte is the
// record type; the rest is type specific (JSON metadata, for MESSAGE followed
// by the raw content). Decoders reject unknown types and malformed JSON.
import { crc32 } from 'node:zlib';
import type { DsnNotify } from './cleanup-api.js';
import type { QueueState } from './store-api.js';

export const SEGMENT_MAGIC = Buffer.from('PSTRNSEG', 'latin1');
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_SIZE = 16;
export const RECORD_MAGIC = 0x51524543;
export const RECORD_HEADER_SIZE = 12;
/** Larger than any message Postern accepts; anything bigger is damage. */
export const MAX_RECORD_PAYLOAD = 0x7fff0000;

export const enum RecordType {
  Message = 1,
  State = 2,
  Outcomes = 3,
  Delete = 4,
}

export interface RecipientImage {
  address: string;
  original: string;
  orcpt?: string;
  notify?: DsnNotify[];
  done?: boolean;
  lastReason?: string;
}

/** Everything about a message except its content, as stored in a MESSAGE record. */
export interface EnvelopeImage {
  id: string;
  state: QueueState;
  arrivalTime: number;
  sender: string;
  recipients: RecipientImage[];
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  smtputf8?: boolean;
  nextAttempt?: number;
  warned?: boolean;
  /** postsuper -e/-f: return to the sender at the next delivery attempt. */
  expired?: boolean;
  client?: { name: string; addr: string; helo: string; port?: number; protocol?: string };
  /** Per-message content filter (`transport:nexthop`) from header/body_checks FILTER. */
  filter?: string;
  /** sendmail -bv: verify the recipients, report to the sender, deliver nothing. */
  verifyOnly?: boolean;
  /** verify(8)'s probe: results go to the verify service, not to the sender. */
  verifyProbe?: boolean;
}

export interface StateImage {
  id: string;
  state: QueueState;
  nextAttempt?: number;
  warned?: boolean;
  expired?: boolean;
}

export interface OutcomeImage {
  index: number;
  status: 'sent' | 'deferred' | 'bounced';
  dsn: string;
  reason: string;
}

export type DecodedRecord =
  | { type: RecordType.Message; envelope: EnvelopeImage; contentStart: number; contentLength: number }
  | { type: RecordType.State; state: StateImage }
  | { type: RecordType.Outcomes; id: string; outcomes: OutcomeImage[] }
  | { type: RecordType.Delete; id: string };

export function segmentHeader(segment: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_SIZE);
  SEGMENT_MAGIC.copy(b, 0);
  b.writeUInt32BE(SEGMENT_VERSION, 8);
  b.writeUInt32BE(segment, 12);
  return b;
}

export function checkSegmentHeader(b: Buffer): number | undefined {
  if (b.length < SEGMENT_HEADER_SIZE) return undefined;
  if (!b.subarray(0, 8).equals(SEGMENT_MAGIC) || b.readUInt32BE(8) !== SEGMENT_VERSION) return undefined;
  return b.readUInt32BE(12);
}

/**
 * CRC-32 (the zlib polynomial) of the 4-byte length field, continued by
 * zlib's crc32 over the payload: one native call per record instead of one
 * for the length field and another for the rest.
 */
const CRC_TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crcOfLength(buf: Buffer): number {
  let c = 0xffffffff;
  for (let i = 4; i < 8; i++) c = (CRC_TABLE[(c ^ (buf[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A record whose payload is `type` followed by `json`, built in one buffer. */
function jsonRecord(type: RecordType, json: string): Buffer[] {
  const jsonLength = Buffer.byteLength(json, 'utf8');
  const b = Buffer.allocUnsafe(RECORD_HEADER_SIZE + 1 + jsonLength);
  b.writeUInt32BE(RECORD_MAGIC, 0);
  b.writeUInt32BE(1 + jsonLength, 4);
  b[RECORD_HEADER_SIZE] = type;
  b.write(json, RECORD_HEADER_SIZE + 1, 'utf8');
  b.writeUInt32BE(crc32(b.subarray(RECORD_HEADER_SIZE), crcOfLength(b)), 8);
  return [b];
}

/** Content up to this size is copied into the record's first buffer: one buffer to checksum, write and keep. */
const INLINE_CONTENT_MAX = 8192;

export interface EncodedMessage {
  /** The record's buffers, in order. */
  readonly buffers: Buffer[];
  /** Offset of the first content byte from the start of the record. */
  readonly contentStart: number;
  /** The content as one buffer, when it was copied into the record (small messages). */
  readonly inline?: Buffer;
}

/**
 * A MESSAGE record; the content may come in pieces (headers, body). Small
 * content is copied behind the metadata, so the record is one buffer; larger
 * content is written from the caller's pieces as they are, never copied.
 * Either way the bytes are the same.
 */
export function encodeMessage(env: EnvelopeImage, content: readonly Buffer[]): EncodedMessage {
  const json = JSON.stringify(env);
  const jsonLength = Buffer.byteLength(json, 'utf8');
  const contentStart = RECORD_HEADER_SIZE + 1 + 4 + jsonLength;
  let contentLength = 0;
  for (const c of content) contentLength += c.length;
  const inline = contentLength <= INLINE_CONTENT_MAX;
  const lead = Buffer.allocUnsafe(contentStart + (inline ? contentLength : 0));
  lead.writeUInt32BE(RECORD_MAGIC, 0);
  lead.writeUInt32BE(1 + 4 + jsonLength + contentLength, 4);
  lead[RECORD_HEADER_SIZE] = RecordType.Message;
  lead.writeUInt32BE(jsonLength, RECORD_HEADER_SIZE + 1);
  lead.write(json, RECORD_HEADER_SIZE + 1 + 4, 'utf8');
  if (inline) {
    let at = contentStart;
    for (const c of content) at += c.copy(lead, at);
  }
  let crc = crc32(lead.subarray(RECORD_HEADER_SIZE), crcOfLength(lead));
  if (!inline) for (const c of content) crc = crc32(c, crc);
  lead.writeUInt32BE(crc, 8);
  return inline
    ? { buffers: [lead], contentStart, inline: lead.subarray(contentStart) }
    : { buffers: [lead, ...content], contentStart };
}

export function encodeState(s: StateImage): Buffer[] {
  return jsonRecord(RecordType.State, JSON.stringify(s));
}

export function encodeOutcomes(id: string, outcomes: OutcomeImage[]): Buffer[] {
  return jsonRecord(RecordType.Outcomes, JSON.stringify({ id, outcomes }));
}

export function encodeDelete(id: string): Buffer[] {
  return jsonRecord(RecordType.Delete, JSON.stringify({ id }));
}

export type FrameCheck =
  { ok: true; payloadStart: number; end: number } | { ok: false; reason: 'short' | 'magic' | 'length' | 'checksum' };

/** Validate the record framing at `off` without interpreting the payload. */
export function checkFrame(buf: Buffer, off: number): FrameCheck {
  if (buf.length - off < RECORD_HEADER_SIZE + 1) return { ok: false, reason: 'short' };
  if (buf.readUInt32BE(off) !== RECORD_MAGIC) return { ok: false, reason: 'magic' };
  const len = buf.readUInt32BE(off + 4);
  if (len < 1 || len > MAX_RECORD_PAYLOAD) return { ok: false, reason: 'length' };
  const payloadStart = off + RECORD_HEADER_SIZE;
  const end = payloadStart + len;
  if (end > buf.length) return { ok: false, reason: 'short' };
  let crc = crc32(buf.subarray(off + 4, off + 8));
  crc = crc32(buf.subarray(payloadStart, end), crc);
  if (crc !== buf.readUInt32BE(off + 8)) return { ok: false, reason: 'checksum' };
  return { ok: true, payloadStart, end };
}

const STATES: ReadonlySet<string> = new Set(['incoming', 'active', 'deferred', 'hold', 'corrupt']);
const NOTIFY: ReadonlySet<string> = new Set(['NEVER', 'SUCCESS', 'FAILURE', 'DELAY']);
const STATUSES: ReadonlySet<string> = new Set(['sent', 'deferred', 'bounced']);

class RecordShapeError extends Error {}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RecordShapeError(`${what}: not an object`);
  return v as Record<string, unknown>;
}
function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new RecordShapeError(`${k}: not a string`);
  return v;
}
function optStr(o: Record<string, unknown>, k: string): string | undefined {
  return o[k] === undefined ? undefined : str(o, k);
}
function num(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RecordShapeError(`${k}: not a number`);
  return v;
}
function optNum(o: Record<string, unknown>, k: string): number | undefined {
  return o[k] === undefined ? undefined : num(o, k);
}
function optBool(o: Record<string, unknown>, k: string): boolean | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new RecordShapeError(`${k}: not a boolean`);
  return v;
}
function oneOf<T extends string>(v: string | undefined, allowed: ReadonlySet<string>, k: string): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.has(v)) throw new RecordShapeError(`${k}: unexpected value`);
  return v as T;
}
function queueState(o: Record<string, unknown>): QueueState {
  return oneOf<QueueState>(str(o, 'state'), STATES, 'state') as QueueState;
}

/** Copy only known optional fields so `undefined` never reaches JSON or the index. */
function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function decodeRecipient(v: unknown): RecipientImage {
  const o = obj(v, 'recipient');
  let notify: DsnNotify[] | undefined;
  if (o.notify !== undefined) {
    if (!Array.isArray(o.notify)) throw new RecordShapeError('notify: not an array');
    notify = o.notify.map((n) => oneOf<DsnNotify>(typeof n === 'string' ? n : '?', NOTIFY, 'notify') as DsnNotify);
  }
  return compact({
    address: str(o, 'address'),
    original: str(o, 'original'),
    orcpt: optStr(o, 'orcpt'),
    notify,
    done: optBool(o, 'done'),
    lastReason: optStr(o, 'lastReason'),
  });
}

function decodeEnvelope(v: unknown): EnvelopeImage {
  const o = obj(v, 'envelope');
  if (!Array.isArray(o.recipients)) throw new RecordShapeError('recipients: not an array');
  let client: EnvelopeImage['client'];
  if (o.client !== undefined) {
    const c = obj(o.client, 'client');
    client = compact({
      name: str(c, 'name'),
      addr: str(c, 'addr'),
      helo: str(c, 'helo'),
      port: optNum(c, 'port'),
      protocol: optStr(c, 'protocol'),
    });
  }
  return compact({
    id: str(o, 'id'),
    state: queueState(o),
    arrivalTime: num(o, 'arrivalTime'),
    sender: str(o, 'sender'),
    recipients: o.recipients.map(decodeRecipient),
    envid: optStr(o, 'envid'),
    ret: oneOf<'FULL' | 'HDRS'>(optStr(o, 'ret'), new Set(['FULL', 'HDRS']), 'ret'),
    body: oneOf<'7BIT' | '8BITMIME' | 'BINARYMIME'>(
      optStr(o, 'body'),
      new Set(['7BIT', '8BITMIME', 'BINARYMIME']),
      'body',
    ),
    smtputf8: optBool(o, 'smtputf8'),
    nextAttempt: optNum(o, 'nextAttempt'),
    warned: optBool(o, 'warned'),
    expired: optBool(o, 'expired'),
    client,
    filter: optStr(o, 'filter'),
    verifyOnly: optBool(o, 'verifyOnly'),
    verifyProbe: optBool(o, 'verifyProbe'),
  });
}

/**
 * Interpret a record whose framing `checkFrame` accepted. Returns an error
 * text instead of throwing when the payload is not a record Postern wrote.
 */
export function decodeRecord(buf: Buffer, payloadStart: number, end: number): DecodedRecord | string {
  try {
    const type = buf.readUInt8(payloadStart) as RecordType;
    const body = buf.subarray(payloadStart + 1, end);
    switch (type) {
      case RecordType.Message: {
        if (body.length < 4) return 'message record too short';
        const jsonLen = body.readUInt32BE(0);
        if (4 + jsonLen > body.length) return 'message envelope overruns the record';
        const envelope = decodeEnvelope(JSON.parse(body.subarray(4, 4 + jsonLen).toString('utf8')));
        const contentStart = payloadStart + 1 + 4 + jsonLen;
        return { type, envelope, contentStart, contentLength: end - contentStart };
      }
      case RecordType.State: {
        const o = obj(JSON.parse(body.toString('utf8')), 'state');
        return {
          type,
          state: compact({
            id: str(o, 'id'),
            state: queueState(o),
            nextAttempt: optNum(o, 'nextAttempt'),
            warned: optBool(o, 'warned'),
            expired: optBool(o, 'expired'),
          }),
        };
      }
      case RecordType.Outcomes: {
        const o = obj(JSON.parse(body.toString('utf8')), 'outcomes');
        if (!Array.isArray(o.outcomes)) return 'outcomes: not an array';
        const outcomes = o.outcomes.map((x): OutcomeImage => {
          const r = obj(x, 'outcome');
          const status = oneOf<OutcomeImage['status']>(str(r, 'status'), STATUSES, 'status') as OutcomeImage['status'];
          return { index: num(r, 'index'), status, dsn: str(r, 'dsn'), reason: str(r, 'reason') };
        });
        return { type, id: str(o, 'id'), outcomes };
      }
      case RecordType.Delete: {
        const o = obj(JSON.parse(body.toString('utf8')), 'delete');
        return { type, id: str(o, 'id') };
      }
      default:
        return `unknown record type ${buf.readUInt8(payloadStart)}`;
    }
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
