// The Sendmail 8 Milter wire protocol as the MTA side speaks it (Postfix's
// MILTER_README; the packet layout is libmilter's, versions 2 to 6): every
// packet is a 32-bit big-endian length, one command byte, then data made of
// NUL-terminated strings and big-endian integers. This file only encodes
// MTA→filter commands and decodes filter→MTA replies; the conversation and
// its state live in milter8.ts.

/** MTA → filter commands (SMFIC_*). */
export const SMFIC = {
  ABORT: 'A',
  BODY: 'B',
  CONNECT: 'C',
  MACRO: 'D',
  BODYEOB: 'E',
  HELO: 'H',
  HEADER: 'L',
  MAIL: 'M',
  EOH: 'N',
  OPTNEG: 'O',
  QUIT: 'Q',
  RCPT: 'R',
  DATA: 'T',
  UNKNOWN: 'U',
} as const;
export type MilterCommand = (typeof SMFIC)[keyof typeof SMFIC];

/** Filter → MTA replies (SMFIR_*). */
export const SMFIR = {
  ADDRCPT: '+',
  DELRCPT: '-',
  ADDRCPT_PAR: '2',
  SHUTDOWN: '4',
  ACCEPT: 'a',
  REPLBODY: 'b',
  CONTINUE: 'c',
  DISCARD: 'd',
  CHGFROM: 'e',
  CONN_FAIL: 'f',
  ADDHEADER: 'h',
  INSHEADER: 'i',
  SETSYMLIST: 'l',
  CHGHEADER: 'm',
  PROGRESS: 'p',
  QUARANTINE: 'q',
  REJECT: 'r',
  SKIP: 's',
  TEMPFAIL: 't',
  REPLYCODE: 'y',
} as const;

/** Protocol flags (SMFIP_*): events the filter does not want, replies it will not send. */
export const SMFIP = {
  NOCONNECT: 1 << 0,
  NOHELO: 1 << 1,
  NOMAIL: 1 << 2,
  NORCPT: 1 << 3,
  NOBODY: 1 << 4,
  NOHDRS: 1 << 5,
  NOEOH: 1 << 6,
  NR_HDR: 1 << 7,
  NOUNKNOWN: 1 << 8,
  NODATA: 1 << 9,
  SKIP: 1 << 10,
  RCPT_REJ: 1 << 11,
  NR_CONN: 1 << 12,
  NR_HELO: 1 << 13,
  NR_MAIL: 1 << 14,
  NR_RCPT: 1 << 15,
  NR_DATA: 1 << 16,
  NR_UNKN: 1 << 17,
  NR_EOH: 1 << 18,
  NR_BODY: 1 << 19,
  HDR_LEADSPC: 1 << 20,
} as const;

/** Actions the filter may take (SMFIF_*); we offer all of them, as Postfix does. */
export const SMFIF = {
  ADDHDRS: 1 << 0,
  CHGBODY: 1 << 1,
  ADDRCPT: 1 << 2,
  DELRCPT: 1 << 3,
  CHGHDRS: 1 << 4,
  QUARANTINE: 1 << 5,
  CHGFROM: 1 << 6,
  ADDRCPT_PAR: 1 << 7,
  SETSYMLIST: 1 << 8,
} as const;
export const MTA_ACTIONS = Object.values(SMFIF).reduce((a, b) => a | b, 0);

/** Events that may be switched off, by protocol version (what we may announce and send). */
const V2 = SMFIP.NOCONNECT | SMFIP.NOHELO | SMFIP.NOMAIL | SMFIP.NORCPT | SMFIP.NOBODY | SMFIP.NOHDRS | SMFIP.NOEOH;
const V3 = V2 | SMFIP.NOUNKNOWN;
const V4 = V3 | SMFIP.NODATA;
const NOREPLY =
  SMFIP.NR_CONN |
  SMFIP.NR_HELO |
  SMFIP.NR_MAIL |
  SMFIP.NR_RCPT |
  SMFIP.NR_DATA |
  SMFIP.NR_UNKN |
  SMFIP.NR_HDR |
  SMFIP.NR_EOH |
  SMFIP.NR_BODY;
const V6 = V4 | SMFIP.SKIP | SMFIP.RCPT_REJ | NOREPLY | SMFIP.HDR_LEADSPC;
/** The "don't send" subset: an event whose flag is outside our version is never sent. */
export const NOSEND_MASK = V4 | SMFIP.NOUNKNOWN;
export const VERSION_EVENTS: ReadonlyMap<number, number> = new Map([
  [6, V6],
  [4, V4],
  [3, V3],
  [2, V2],
]);

/** Macro classes of SMFIR_SETSYMLIST (SMFIM_*), in wire order. */
export const MACRO_STAGES = ['connect', 'helo', 'mail', 'rcpt', 'data', 'eom', 'eoh'] as const;
export type MacroStage = (typeof MACRO_STAGES)[number] | 'unknown';

/** Address family byte of SMFIC_CONNECT. */
export type ConnectFamily = '4' | '6' | 'L' | 'U';

/** Bigger packets from a filter are refused; libmilter never sends more than a body chunk plus headers. */
export const MAX_REPLY_PACKET = 16 * 1024 * 1024;
/** Body chunk size Postfix uses (libmilter's MILTER_CHUNK_SIZE). */
export const BODY_CHUNK = 65535;

export type DataPart = string | Buffer | { readonly u32: number } | { readonly u16: number };

/** One MTA → filter packet. Strings are sent NUL-terminated; Buffers as raw bytes. */
export function encodePacket(cmd: MilterCommand, parts: readonly DataPart[] = []): Buffer {
  const pieces: Buffer[] = [Buffer.from(cmd, 'latin1')];
  for (const p of parts) {
    if (typeof p === 'string') pieces.push(Buffer.from(`${p}\0`, 'utf8'));
    else if (Buffer.isBuffer(p)) pieces.push(p);
    else if ('u32' in p) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(p.u32 >>> 0);
      pieces.push(b);
    } else {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(p.u16 & 0xffff);
      pieces.push(b);
    }
  }
  const body = Buffer.concat(pieces);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** A raw reply packet: its command byte and data. */
export interface ReplyPacket {
  readonly cmd: string;
  readonly data: Buffer;
}

/** Splits a byte stream into packets; throws on a length the protocol cannot have. */
export class PacketSplitter {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): ReplyPacket[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: ReplyPacket[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len < 1) throw new Error(`bad packet length: ${len}`);
      if (len > MAX_REPLY_PACKET) throw new Error(`unreasonable packet length: ${len} > ${MAX_REPLY_PACKET}`);
      if (this.buf.length < 4 + len) break;
      out.push({ cmd: String.fromCharCode(this.buf[4] ?? 0), data: this.buf.subarray(5, 4 + len) });
      this.buf = this.buf.subarray(4 + len);
    }
    return out;
  }
}

/** Reads the fields of one reply packet in order; any shortfall throws. */
export class DataReader {
  private off = 0;
  constructor(private readonly data: Buffer) {}

  u32(): number {
    if (this.off + 4 > this.data.length) throw new Error('input packet too short for network long');
    const v = this.data.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }

  string(): string {
    const end = this.data.indexOf(0, this.off);
    if (end < 0) throw new Error('missing string null terminator');
    const s = this.data.toString('utf8', this.off, end);
    this.off = end + 1;
    return s;
  }

  rest(): Buffer {
    const b = this.data.subarray(this.off);
    this.off = this.data.length;
    return b;
  }

  remaining(): number {
    return this.data.length - this.off;
  }

  /** The packet must be used up: left-over bytes mean a confused filter. */
  end(): void {
    if (this.off !== this.data.length) throw new Error(`left-over data ${this.data.length - this.off} bytes`);
  }
}

/** Printable name of a reply command for log lines, as Postfix names them. */
export function replyName(cmd: string): string {
  for (const [k, v] of Object.entries(SMFIR)) if (v === cmd) return `SMFIR_${k}`;
  return '(unknown filter reply)';
}

export function commandName(cmd: string): string {
  for (const [k, v] of Object.entries(SMFIC)) if (v === cmd) return `SMFIC_${k}`;
  return '(unknown MTA event)';
}
