// The postdrop service: $queue_directory/public/pickup accepts messages from
// users who may not write into maildrop/ themselves (Postfix gives postdrop
// setgid privileges for this; Node programs cannot be setgid). A request is
// one JSON line {envelope, size} followed by exactly `size` content bytes;
// the message is written to maildrop/ as mail_owner and the answer is
// `OK <queueid>` or `ERR <text>`. The client's claimed uid cannot be checked
// (Node has no SO_PEERCRED), so it is logged as given, like a -f sender.
import { chmod, mkdir, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../../global/log/logger.js';
import type { DsnNotify } from '../../global/queue/cleanup-api.js';
import { writeMaildrop, type MaildropEnvelope } from '../../global/queue/maildrop.js';

const NOTIFY: readonly DsnNotify[] = ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'];

const MAX_HEADER = 1024 * 1024;
const TIMEOUT_MS = 60_000;
const MAX_RECIPIENTS = 10_000;

function decodeHeader(line: string): { envelope: MaildropEnvelope; size: number } | undefined {
  try {
    const o = JSON.parse(line) as { envelope?: Record<string, unknown>; size?: unknown };
    const e = o.envelope;
    if (!e || typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) return undefined;
    const ok =
      typeof e.sender === 'string' &&
      e.sender.length <= 1000 &&
      Array.isArray(e.recipients) &&
      e.recipients.length <= MAX_RECIPIENTS &&
      e.recipients.every((r) => typeof r === 'string' && r.length <= 1000) &&
      (e.fullName === undefined || typeof e.fullName === 'string') &&
      (e.extractRecipients === undefined || typeof e.extractRecipients === 'boolean') &&
      (e.uid === undefined || typeof e.uid === 'number');
    if (!ok) return undefined;
    const envelope: MaildropEnvelope = {
      sender: e.sender as string,
      recipients: e.recipients as string[],
      arrivalTime: Date.now(),
      ...(typeof e.fullName === 'string' ? { fullName: e.fullName.slice(0, 1000) } : {}),
      ...(e.extractRecipients === true ? { extractRecipients: true } : {}),
      ...(typeof e.uid === 'number' ? { uid: e.uid } : {}),
      ...(Array.isArray(e.notify) && e.notify.every((n) => NOTIFY.includes(n as DsnNotify))
        ? { notify: e.notify as DsnNotify[] }
        : {}),
      ...(e.ret === 'FULL' || e.ret === 'HDRS' ? { ret: e.ret } : {}),
      ...(typeof e.envid === 'string' ? { envid: e.envid.slice(0, 100) } : {}),
      ...(e.body === '7BIT' || e.body === '8BITMIME' ? { body: e.body } : {}),
      ...(e.verifyOnly === true ? { verifyOnly: true } : {}),
    };
    return { envelope, size: o.size };
  } catch {
    return undefined;
  }
}

export interface DropSocketOptions {
  readonly queueDirectory: string;
  /** message_size_limit (0 = none): larger submissions are refused before they are read. */
  readonly sizeLimit: number;
  readonly logger: Logger;
  /** Called after each message is in maildrop/, so pickup takes it at once. */
  readonly onDropped: () => void;
}

function serve(o: DropSocketOptions, sock: Socket): void {
  let head: Buffer = Buffer.alloc(0);
  let req: { envelope: MaildropEnvelope; size: number } | undefined;
  const body: Buffer[] = [];
  let got = 0;
  let done = false;
  const answer = (text: string): void => {
    done = true;
    sock.end(`${text}\n`);
  };
  sock.setTimeout(TIMEOUT_MS, () => sock.destroy());
  sock.on('error', () => undefined);
  sock.on('data', (d: Buffer) => {
    if (done) return;
    let rest = d;
    if (!req) {
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(0x0a);
      if (nl < 0) {
        if (head.length > MAX_HEADER) answer('ERR request too long');
        return;
      }
      req = decodeHeader(head.subarray(0, nl).toString('utf8'));
      if (!req) return answer('ERR malformed request');
      if (o.sizeLimit > 0 && req.size > o.sizeLimit) return answer('ERR message file too big');
      rest = head.subarray(nl + 1);
    }
    body.push(rest);
    got += rest.length;
    if (got > req.size) answer('ERR more data than announced');
  });
  sock.on('end', () => {
    if (done) return;
    if (!req || got !== req.size) return answer('ERR truncated request');
    const r = req;
    writeMaildrop(o.queueDirectory, r.envelope, Buffer.concat(body)).then(
      (id) => {
        answer(`OK ${id}`);
        o.onDropped();
      },
      (err: unknown) => {
        o.logger.warning(`postdrop service: ${(err as Error).message}`);
        answer('ERR queue file write error');
      },
    );
  });
}

export async function startDropSocket(o: DropSocketOptions): Promise<Server> {
  await mkdir(join(o.queueDirectory, 'public'), { recursive: true, mode: 0o755 });
  const path = join(o.queueDirectory, 'public', 'pickup');
  await unlink(path).catch(() => undefined);
  const server = createServer({ allowHalfOpen: true }, (s) => serve(o, s));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o666);
  return server;
}
