// postsuper(1): queue maintenance for the superuser — delete (-d), hold (-h),
// release (-H), requeue (-r) and force-expire (-e; -f also releases from
// hold: qmgr then returns the message to its sender) messages by queue ID, `ALL` or `-` (IDs on
// standard input), optionally limited to named queues; -s checks the queue
// structure and -p purges temporary files left by crashes. With the mail
// system running, changes go to it over private/postsuper (only the process
// that owns the queue store may change it); with it down, postsuper opens the
// store itself under the queue lock (which also runs crash recovery: -s).
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { getopt, UsageError } from '../../util/getopt.js';
import { configDirectory, loadConfig, type Config } from '../../global/params/config.js';
import { stderrLogger } from '../../global/log/create-logger.js';
import type { Logger } from '../../global/log/logger.js';
import { openQueueStore } from '../../global/queue/open-store.js';
import { listMaildrop, removeMaildrop } from '../../global/queue/maildrop.js';
import { sendControl } from '../../daemons/flush/control-client.js';
import { SUPER_SOCKET } from '../../daemons/flush/control-protocol.js';
import { readStdin } from '../postmap/options.js';
import { mailOwnerOf } from '../sendmail/submit.js';
import { CommandFailure, EX_CONFIG, EX_NOPERM, EX_SOFTWARE, EX_UNAVAILABLE, EX_USAGE } from '../sendmail/sysexits.js';
import { applySuper, QUEUE_NAMES, summaryLine, type SuperAction, type SuperRequest } from './queue-ops.js';

export interface PostsuperIo {
  readonly stderr: (text: string) => void;
  readonly stdin: () => Promise<string>;
}

const processIo: PostsuperIo = { stderr: (t) => process.stderr.write(t), stdin: () => readStdin() };

const ACTIONS: Record<string, SuperAction> = {
  d: 'delete',
  h: 'hold',
  H: 'release',
  r: 'requeue',
  e: 'expire',
  f: 'expire-release',
};
/** Postfix's order: -p/-s first, then requeue, delete, expire, hold, release. */
const ORDER: readonly SuperAction[] = ['requeue', 'delete', 'expire', 'expire-release', 'hold', 'release'];

export async function main(argv: string[], progName = 'postsuper', io: PostsuperIo = processIo): Promise<number> {
  try {
    return await run(argv, progName, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`${progName}: fatal: ${err.message}\n`);
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

function load(dir: string | undefined): Config {
  try {
    return loadConfig(configDirectory(dir));
  } catch (err) {
    throw new CommandFailure((err as Error).message, EX_CONFIG);
  }
}

async function run(argv: string[], progName: string, io: PostsuperIo): Promise<number> {
  const args = getopt(argv, 'c:d:e:f:h:H:pr:sSv');
  let configDir: string | undefined;
  let purge = false;
  const wanted = new Map<SuperAction, string[]>();
  for (const { flag, value } of args.options) {
    if (flag === 'c') configDir = value;
    else if (flag === 'p') purge = true;
    else if (ACTIONS[flag]) {
      const action = ACTIONS[flag];
      if (value !== 'ALL' && value !== '-' && !/^[A-Za-z0-9]{1,64}$/.test(value)) {
        throw new UsageError(`invalid queue id: ${value}`);
      }
      wanted.set(action, [...(wanted.get(action) ?? []), value]);
    }
  }
  for (const q of args.operands) {
    if (!QUEUE_NAMES.includes(q)) throw new UsageError(`invalid directory name: ${q}`);
  }
  if ((process.getuid?.() ?? 0) !== 0) {
    throw new CommandFailure('Use of this command is reserved for the superuser', EX_NOPERM);
  }
  const cfg = load(configDir);
  const queueDir = cfg.get('queue_directory');
  let stdinIds: string[] | undefined;
  const requests: SuperRequest[] = [];
  for (const action of ORDER) {
    const values = wanted.get(action);
    if (!values) continue;
    if (values.includes('ALL')) {
      requests.push({ action, ids: 'ALL', queues: args.operands });
      continue;
    }
    const ids: string[] = [];
    for (const v of values) {
      if (v !== '-') ids.push(v);
      else {
        stdinIds ??= (await io.stdin()).split(/\s+/).filter((s) => /^[A-Za-z0-9]{1,64}$/.test(s));
        ids.push(...stdinIds);
      }
    }
    requests.push({ action, ids, queues: args.operands });
  }
  if (purge) await purgeTemporaryFiles(queueDir, progName, io);
  // maildrop files are outside the store: `postsuper -d ... maildrop` removes them here.
  for (const req of requests) {
    if (req.action === 'delete' && req.queues.includes('maildrop')) await deleteMaildrop(queueDir, req, progName, io);
  }

  // The running mail system first; directly, under the queue lock, when it is down.
  const first = requests[0];
  const probe = first ? await sendControl(queueDir, SUPER_SOCKET, { op: 'super', ...first }) : { down: true as const };
  if (!probe.down) {
    for (const [i, req] of requests.entries()) {
      const r = i === 0 ? probe : await sendControl(queueDir, SUPER_SOCKET, { op: 'super', ...req });
      if (r.down) throw new CommandFailure('the mail system stopped while postsuper was running', EX_UNAVAILABLE);
      if (!r.answer.ok) throw new CommandFailure(r.answer.error, EX_UNAVAILABLE);
      report(progName, io, req.action, r.answer.lines, r.answer.count);
    }
    return 0;
  }
  if (requests.length === 0 && !args.options.some((o) => o.flag === 's' || o.flag === 'S')) return 0;
  const log = quiet(stderrLogger(progName));
  let store;
  try {
    store = await openQueueStore(cfg, log);
  } catch (err) {
    throw new CommandFailure(`cannot open the queue: ${(err as Error).message}`, EX_UNAVAILABLE);
  }
  // Requeued mail goes back to maildrop/, where pickup (mail_owner) must be able to read it.
  const owner = await mailOwnerOf(cfg.get('mail_owner'));
  try {
    for (const req of requests) {
      const r = await applySuper(store, queueDir, req, owner);
      report(progName, io, req.action, r.lines, r.count);
    }
  } finally {
    await store.close();
  }
  return 0;
}

function report(progName: string, io: PostsuperIo, action: SuperAction, lines: readonly string[], count: number): void {
  for (const l of lines) io.stderr(`${progName}: ${l}\n`);
  if (count > 0) io.stderr(`${progName}: ${summaryLine(action, count)}\n`);
}

/** maildrop/.ID.PID temporaries whose writer is gone (crash between write and link). */
async function purgeTemporaryFiles(queueDir: string, progName: string, io: PostsuperIo): Promise<void> {
  const dir = join(queueDir, 'maildrop');
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.slice(0, 100_000)) {
    const m = /^\.[A-Za-z0-9]+\.(\d+)$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    // An hour-old temporary of a live pid is a recycled pid, not a write in progress.
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (!st || (alive && Date.now() - st.mtimeMs < 3_600_000)) continue;
    await unlink(join(dir, name)).catch(() => undefined);
    io.stderr(`${progName}: Removed temporary file maildrop/${name}\n`);
  }
}

/** The store's informational recovery lines are for the mail log, not postsuper's terminal. */
function quiet(inner: Logger): Logger {
  return {
    tag: inner.tag,
    info: () => undefined,
    warning: (t) => inner.warning(t),
    error: (t) => inner.error(t),
    fatal: (t) => inner.fatal(t),
    panic: (t) => inner.panic(t),
    child: (s) => quiet(inner.child(s)),
  };
}

async function deleteMaildrop(queueDir: string, req: SuperRequest, progName: string, io: PostsuperIo): Promise<void> {
  const present = await listMaildrop(queueDir);
  const wanted = req.ids === 'ALL' ? present : present.filter((id) => req.ids.includes(id));
  let count = 0;
  for (const id of wanted) {
    try {
      await removeMaildrop(queueDir, id);
    } catch {
      continue; // picked up meanwhile
    }
    io.stderr(`${progName}: ${id}: removed\n`);
    count++;
  }
  if (count > 0) io.stderr(`${progName}: ${summaryLine('delete', count)}\n`);
}
