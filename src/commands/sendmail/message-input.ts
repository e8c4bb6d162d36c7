// Reading the message sendmail(1) is given on standard input: UNIX line ends
// become the CRLF lines the queue stores, a line holding only "." ends the
// message unless -i/-oi was given (Sendmail's rule, which Postfix keeps), a
// leading mbox "From " line is dropped as Postfix does, and the size is
// bounded by message_size_limit so a runaway pipe cannot fill the disk.
import { CommandFailure, EX_DATAERR } from './sysexits.js';

export interface MessageInputOptions {
  readonly ignoreDots: boolean;
  /** Bytes; 0 = no limit (message_size_limit = 0). */
  readonly sizeLimit: number;
}

/** What a submission collected from standard input. */
export interface MessageInput {
  /** CRLF lines, the last one terminated. */
  readonly content: Buffer;
}

const CRLF = Buffer.from('\r\n');
const FROM_ = Buffer.from('From ');

/** Convert `raw` (any mix of LF and CRLF lines) into CRLF lines, honouring the lone-dot rule. */
export function canonicalLines(raw: Buffer, ignoreDots: boolean): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  while (start < raw.length) {
    let nl = raw.indexOf(0x0a, start);
    const last = nl < 0;
    if (last) nl = raw.length;
    let end = nl;
    if (end > start && raw[end - 1] === 0x0d) end--;
    const line = raw.subarray(start, end);
    if (!ignoreDots && line.length === 1 && line[0] === 0x2e) break;
    // A leading UNIX mailbox "From " line is not part of the message (Postfix drops it too).
    if (start !== 0 || !line.subarray(0, 5).equals(FROM_)) parts.push(line, CRLF);
    start = nl + 1;
  }
  return Buffer.concat(parts);
}

export async function readMessage(stream: NodeJS.ReadableStream, opts: MessageInputOptions): Promise<MessageInput> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    total += b.length;
    // CRLF conversion can add one byte per line; compare the raw input with some room.
    if (opts.sizeLimit > 0 && total > opts.sizeLimit * 2 + 1024) {
      throw new CommandFailure('message file too big', EX_DATAERR);
    }
    chunks.push(b);
  }
  const content = canonicalLines(Buffer.concat(chunks), opts.ignoreDots);
  if (opts.sizeLimit > 0 && content.length > opts.sizeLimit) {
    throw new CommandFailure('message file too big', EX_DATAERR);
  }
  return { content };
}
