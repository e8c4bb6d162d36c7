// postdrop(1): store one message given on standard input in maildrop/. In
// Postfix it is the setgid helper sendmail runs; Postern's sendmail writes
// maildrop files itself (see commands/sendmail/submit.ts for the privilege
// model), and postdrop remains for scripts: its input is one maildrop file
// (the format written by sendmail, "PSTRNDRP" ...), which is checked and
// stored under a new queue ID. -r and -v are accepted; -c names the
// configuration directory.
import { getopt, UsageError } from '../../util/getopt.js';
import { configDirectory, loadConfig } from '../../global/params/config.js';
import { decodeMaildrop, MaildropError, type MaildropEnvelope } from '../../global/queue/maildrop.js';
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
  let msg;
  try {
    msg = decodeMaildrop('stdin', buf);
  } catch (err) {
    if (err instanceof MaildropError) throw new CommandFailure('malformed input: not a maildrop file', EX_DATAERR);
    throw err;
  }
  const env = msg.envelope;
  // The arrival time and uid are this submission's, whatever the input claims.
  return { env: { ...env, arrivalTime: Date.now(), uid: process.getuid?.() ?? 0 }, content: msg.content };
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
