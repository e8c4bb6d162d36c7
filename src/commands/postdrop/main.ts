// postdrop(1): store one message given on standard input in maildrop/. In
// Postfix it is the setgid helper sendmail runs; Postern's sendmail writes
// maildrop files itself (see commands/sendmail/submit.ts for the privilege
// model), and postdrop remains for scripts: its input is one maildrop file
// (the format written by sendmail, "PSTRNDRP" ...), which is checked and
// stored under a new queue ID. -r and -v are accepted; -c names the
// configuration directory.
import { getopt, UsageError } from '../../util/getopt.js';
import { configDirectory, loadConfig } from '../../global/params/config.js';
import { checkFrame } from '../../global/queue/record-format.js';
import type { MaildropEnvelope } from '../../global/queue/maildrop.js';
import { dropMessage } from '../sendmail/submit.js';
import { CommandFailure, EX_DATAERR, EX_SOFTWARE, EX_USAGE } from '../sendmail/sysexits.js';

const MAX_INPUT = 512 * 1024 * 1024;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    n += b.length;
    if (n > MAX_INPUT) throw new CommandFailure('input too large', EX_DATAERR);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

function parseDropFile(buf: Buffer): { env: MaildropEnvelope; content: Buffer } {
  const bad = (): never => {
    throw new CommandFailure('malformed input: not a maildrop file', EX_DATAERR);
  };
  if (buf.length < 16 || buf.subarray(0, 8).toString('latin1') !== 'PSTRNDRP') bad();
  const f = checkFrame(buf, 16);
  if (!f.ok || f.end !== buf.length || buf.readUInt8(f.payloadStart) !== 0x10) return bad();
  const jsonLen = buf.readUInt32BE(f.payloadStart + 1);
  const jsonStart = f.payloadStart + 5;
  if (jsonStart + jsonLen > f.end) bad();
  let env: MaildropEnvelope;
  try {
    env = JSON.parse(buf.subarray(jsonStart, jsonStart + jsonLen).toString('utf8')) as MaildropEnvelope;
  } catch {
    return bad();
  }
  const notifyOk = (n: unknown): boolean => ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'].includes(n as string);
  const ok =
    typeof env.sender === 'string' &&
    Array.isArray(env.recipients) &&
    env.recipients.every((r) => typeof r === 'string') &&
    (env.fullName === undefined || typeof env.fullName === 'string') &&
    (env.notify === undefined || (Array.isArray(env.notify) && env.notify.every(notifyOk))) &&
    (env.ret === undefined || env.ret === 'FULL' || env.ret === 'HDRS') &&
    (env.envid === undefined || typeof env.envid === 'string') &&
    (env.body === undefined || env.body === '7BIT' || env.body === '8BITMIME');
  if (!ok) bad();
  return {
    env: {
      sender: env.sender,
      recipients: env.recipients,
      arrivalTime: Date.now(),
      uid: process.getuid?.() ?? 0,
      ...(typeof env.fullName === 'string' ? { fullName: env.fullName } : {}),
      ...(env.extractRecipients === true ? { extractRecipients: true } : {}),
      ...(env.notify !== undefined ? { notify: env.notify } : {}),
      ...(env.ret !== undefined ? { ret: env.ret } : {}),
      ...(env.envid !== undefined ? { envid: env.envid } : {}),
      ...(env.body !== undefined ? { body: env.body } : {}),
    },
    content: buf.subarray(jsonStart + jsonLen, f.end),
  };
}

export async function main(argv: string[], progName = 'postdrop'): Promise<number> {
  try {
    const args = getopt(argv, 'c:rv');
    if (args.operands.length > 0) throw new UsageError(`unexpected argument: ${args.operands[0] ?? ''}`);
    const cfg = loadConfig(configDirectory(args.options.find((o) => o.flag === 'c')?.value));
    const { env, content } = parseDropFile(await readAll(process.stdin));
    await dropMessage({ queueDirectory: cfg.get('queue_directory'), mailOwner: cfg.get('mail_owner') }, env, content);
    return 0;
  } catch (err) {
    process.stderr.write(`${progName}: fatal: ${(err as Error).message}\n`);
    if (err instanceof UsageError) return EX_USAGE;
    return err instanceof CommandFailure ? err.status : EX_SOFTWARE;
  }
}
