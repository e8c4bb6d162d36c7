// postqueue(1): the unprivileged queue interface. -p (mailq) and -j list
// the queue in Postfix's formats; -f, -s site and -i queue_id ask the running
// mail system to retry deferred mail now (through the flush service's
// control socket); -S prints a qshape(1)-style age distribution by
// recipient domain (Postern's addition, see qshape.ts).
// Authorisation follows authorized_mailq_users and authorized_flush_users.
import { getopt, UsageError } from '../../util/getopt.js';
import { configDirectory, loadConfig, type Config } from '../../global/params/config.js';
import { sendControl } from '../../daemons/flush/control-client.js';
import { FLUSH_SOCKET } from '../../daemons/flush/control-protocol.js';
import { invoker, isAuthorized } from '../sendmail/authorized-users.js';
import { CommandFailure, EX_CONFIG, EX_NOPERM, EX_SOFTWARE, EX_UNAVAILABLE, EX_USAGE } from '../sendmail/sysexits.js';
import { formatJson, formatMailq, toShowq, type ShowqMessage } from './showq-format.js';
import { readQueue } from './queue-snapshot.js';

export interface PostqueueIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const processIo: PostqueueIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

const USAGE = 'usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site';

export async function main(argv: string[], progName = 'postqueue', io: PostqueueIo = processIo): Promise<number> {
  try {
    return await run(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`${progName}: fatal: ${err.message}\n${progName}: fatal: ${USAGE}\n`);
      return EX_USAGE;
    }
    if (err instanceof CommandFailure) {
      io.stderr(`${progName}: fatal: ${err.message}\n`);
      return err.status;
    }
    io.stderr(`${progName}: fatal: ${(err as Error).message}\n`);
    return EX_SOFTWARE;
  }
}

type Mode = { kind: 'list'; json: boolean } | { kind: 'flush'; site?: string; queueId?: string } | { kind: 'shape' };

function parse(argv: readonly string[]): { mode: Mode; configDir?: string } {
  const args = getopt(argv, 'c:fi:jps:Sv');
  let mode: Mode | undefined;
  let configDir: string | undefined;
  const set = (m: Mode): void => {
    if (mode) throw new UsageError('specify only one of -f, -i, -j, -p, -s or -S');
    mode = m;
  };
  for (const { flag, value } of args.options) {
    if (flag === 'c') configDir = value;
    else if (flag === 'f') set({ kind: 'flush' });
    else if (flag === 'i') set({ kind: 'flush', queueId: value });
    else if (flag === 's') set({ kind: 'flush', site: value });
    else if (flag === 'p') set({ kind: 'list', json: false });
    else if (flag === 'j') set({ kind: 'list', json: true });
    else if (flag === 'S') set({ kind: 'shape' });
  }
  if (args.operands.length > 0) throw new UsageError(`unexpected argument: ${args.operands[0] ?? ''}`);
  if (!mode) throw new UsageError('no operation specified');
  return { mode, ...(configDir !== undefined ? { configDir } : {}) };
}

function load(dir: string | undefined): Config {
  try {
    return loadConfig(configDirectory(dir));
  } catch (err) {
    throw new CommandFailure((err as Error).message, EX_CONFIG);
  }
}

async function run(argv: string[], io: PostqueueIo): Promise<number> {
  const { mode, configDir } = parse(argv);
  const cfg = load(configDir);
  const queueDir = cfg.get('queue_directory');
  const who = invoker();
  if (mode.kind === 'flush') {
    if (!(await isAuthorized(cfg, 'authorized_flush_users', who, true))) {
      throw new CommandFailure(`User ${who.name}(${who.uid}) is not allowed to flush the mail queue`, EX_NOPERM);
    }
    const r = await sendControl(queueDir, FLUSH_SOCKET, {
      op: 'flush',
      ...(mode.site !== undefined ? { site: mode.site } : {}),
      ...(mode.queueId !== undefined ? { queueId: mode.queueId } : {}),
    });
    if (r.down) throw new CommandFailure('Cannot flush mail queue - mail system is down', EX_UNAVAILABLE);
    if (!r.answer.ok) throw new CommandFailure(r.answer.error, EX_UNAVAILABLE);
    return 0;
  }
  if (!(await isAuthorized(cfg, 'authorized_mailq_users', who, true))) {
    throw new CommandFailure(`User ${who.name}(${who.uid}) is not allowed to view the mail queue`, EX_NOPERM);
  }
  const emptyAddress = cfg.get('empty_address_recipient');
  let messages: ShowqMessage[];
  try {
    messages = (await readQueue(queueDir)).map((e) => toShowq(e, emptyAddress));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') {
      throw new CommandFailure(`cannot read the mail queue in ${queueDir}: ${(err as Error).message}`, EX_UNAVAILABLE);
    }
    // Not allowed to read the queue files: ask the running mail system, as Postfix's postqueue asks showq.
    messages = (await showqFromServer(queueDir)).map((m) => (m.sender === '' ? { ...m, sender: emptyAddress } : m));
  }
  if (mode.kind === 'shape') {
    const { formatQshape } = await import('./qshape.js');
    io.stdout(formatQshape(messages, Date.now()));
  } else io.stdout(mode.json ? formatJson(messages) : formatMailq(messages, cfg.bool('enable_long_queue_ids')));
  return 0;
}

function isShowqMessage(v: unknown): v is ShowqMessage {
  const o = v as Record<string, unknown> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.queueName === 'string' &&
    typeof o.queueId === 'string' &&
    typeof o.arrivalTime === 'number' &&
    typeof o.size === 'number' &&
    typeof o.sender === 'string' &&
    (o.forcedExpire === undefined || typeof o.forcedExpire === 'boolean') &&
    Array.isArray(o.recipients) &&
    o.recipients.every(
      (r: { address?: unknown; reason?: unknown }) => typeof r.address === 'string' && typeof r.reason === 'string',
    )
  );
}

async function showqFromServer(queueDir: string): Promise<ShowqMessage[]> {
  const r = await sendControl(queueDir, FLUSH_SOCKET, { op: 'showq' });
  if (r.down) throw new CommandFailure('Queue report unavailable - mail system is down', EX_UNAVAILABLE);
  if (!r.answer.ok) throw new CommandFailure(r.answer.error, EX_UNAVAILABLE);
  return r.answer.lines.map((l) => {
    const m: unknown = JSON.parse(l);
    if (!isShowqMessage(m)) throw new CommandFailure('malformed queue report from the mail system', EX_UNAVAILABLE);
    return m;
  });
}
