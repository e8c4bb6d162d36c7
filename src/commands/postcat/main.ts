// postcat(1): show queued messages in human-readable form. `-q ID` finds the
// message in the queue (the segment store or maildrop/); otherwise each
// argument is a file: a maildrop file (also as set aside in corrupt/) or a
// whole segment file, whose messages are shown in turn. -e envelope, -h
// header, -b body (default -ehb), -o offsets, -s offset, -d the decimal
// record type of each line (the number Postfix's record of that name has, see
// queue-file-view.ts); -r (file order, no pointer records) is accepted and
// changes nothing: Postern's files have no pointer records, so file order is
// the only order.
import { readFile } from 'node:fs/promises';
import { getopt, UsageError } from '../../util/getopt.js';
import { configDirectory, loadConfig } from '../../global/params/config.js';
import { checkFrame, decodeRecord, SEGMENT_HEADER_SIZE, SEGMENT_MAGIC } from '../../global/queue/record-format.js';
import { decodeMaildrop, MAILDROP_FORMAT, MaildropError } from '../../global/queue/maildrop.js';
import { readMaildropSnapshot, readStoreSnapshot, readStoredContent } from '../postqueue/queue-snapshot.js';
import { readStdin } from '../postmap/options.js';
import { maildropEnvelope, render, storedEnvelope, type MessageView, type RenderOptions } from './queue-file-view.js';

export interface PostcatIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const processIo: PostcatIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

export async function main(argv: string[], progName = 'postcat', io: PostcatIo = processIo): Promise<number> {
  try {
    return await run(argv, progName, io);
  } catch (err) {
    if (err instanceof UsageError)
      io.stderr(`${progName}: fatal: usage: ${progName} [-bdehnoqv] [-c config_dir] [-s offset] [files...]\n`);
    else io.stderr(`${progName}: fatal: ${(err as Error).message}\n`);
    return 1;
  }
}

async function run(argv: string[], progName: string, io: PostcatIo): Promise<number> {
  const args = getopt(argv, 'bc:dehnoqrs:v');
  const flags = new Set(args.options.map((o) => o.flag));
  const configDir = args.options.find((o) => o.flag === 'c')?.value;
  const startText = args.options.find((o) => o.flag === 's')?.value;
  const startOffset = startText === undefined ? 0 : Number(startText);
  if (!Number.isSafeInteger(startOffset) || startOffset < 0) throw new Error(`invalid offset: ${startText ?? ''}`);
  const anyPart = flags.has('e') || flags.has('h') || flags.has('b');
  const opts: RenderOptions = {
    envelope: anyPart ? flags.has('e') : true,
    header: anyPart ? flags.has('h') : true,
    body: anyPart ? flags.has('b') : true,
    offsets: flags.has('o'),
    recordTypes: flags.has('d'),
    startOffset,
  };
  let status = 0;
  if (flags.has('q')) {
    if (args.operands.length === 0) throw new UsageError('no queue ID');
    const queueDir = loadConfig(configDirectory(configDir)).get('queue_directory');
    const stored = await readStoreSnapshot(queueDir);
    const dropped = await readMaildropSnapshot(queueDir);
    for (const id of args.operands) {
      const s = stored.find((e) => e.message.queueId === id);
      const d = dropped.find((e) => e.queueId === id);
      if (s) {
        const content = await readStoredContent(queueDir, s);
        const label = `${s.message.state}/${id}`;
        io.stdout(
          render(
            { label, envelope: storedEnvelope(s.message, s.contentOffset), content, contentOffset: s.contentOffset },
            opts,
          ),
        );
      } else if (d?.envelope && d.content) {
        const v: MessageView = {
          label: `maildrop/${id}`,
          envelope: maildropEnvelope(d.envelope),
          content: d.content,
          contentOffset: 0,
        };
        io.stdout(render(v, opts));
      } else {
        io.stderr(`${progName}: warning: no message file for ID ${id}\n`);
        status = 1;
      }
    }
    return status;
  }
  const files = args.operands.length > 0 ? args.operands : ['-'];
  for (const f of files) {
    const buf = f === '-' ? Buffer.from(await readStdin(), 'latin1') : await readFile(f);
    const views = viewsOfFile(f === '-' ? 'stdin' : f, buf);
    if (views.length === 0) {
      io.stderr(`${progName}: warning: ${f}: no message records found\n`);
      status = 1;
    }
    for (const v of views) io.stdout(render(v, opts));
  }
  return status;
}

/** A maildrop file, or every message record of a segment file. */
function viewsOfFile(label: string, buf: Buffer): MessageView[] {
  if (buf.subarray(0, 8).toString('latin1') === MAILDROP_FORMAT.magic) {
    let m;
    try {
      m = decodeMaildrop(label, buf);
    } catch (err) {
      if (err instanceof MaildropError) throw new Error(`${label}: damaged maildrop file`);
      throw err;
    }
    return [{ label, envelope: maildropEnvelope(m.envelope), content: m.content, contentOffset: m.contentOffset }];
  }
  if (!buf.subarray(0, 8).equals(SEGMENT_MAGIC)) throw new Error(`${label}: not a Postern queue file`);
  const out: MessageView[] = [];
  let off = SEGMENT_HEADER_SIZE;
  while (off < buf.length) {
    const f = checkFrame(buf, off);
    if (!f.ok) break;
    const rec = decodeRecord(buf, f.payloadStart, f.end);
    if (typeof rec !== 'string' && 'envelope' in rec) {
      const e = rec.envelope;
      const message = {
        queueId: e.id,
        state: e.state,
        arrivalTime: e.arrivalTime,
        sender: e.sender,
        size: rec.contentLength,
        recipients: e.recipients.map((r, index) => ({
          index,
          address: r.address,
          original: r.original,
          done: r.done === true,
        })),
        ...(e.client ? { client: e.client } : {}),
      };
      out.push({
        label: `${label}:${e.id}`,
        envelope: storedEnvelope(message, rec.contentStart),
        content: buf.subarray(rec.contentStart, rec.contentStart + rec.contentLength),
        contentOffset: rec.contentStart,
      });
    }
    off = f.end;
  }
  return out;
}
