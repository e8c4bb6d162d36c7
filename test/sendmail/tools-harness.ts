// Shared by the sendmail/postqueue/postsuper/postcat/pickup tests: a temporary
// Postern installation (main.cf + queue directory), running the real
// commands from bin/ as child processes, and a pickup + cleanup + store
// stack in-process that moves maildrop files into the queue.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { Config } from '../../src/global/params/config.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import { Pickup } from '../../src/daemons/pickup/pickup.js';

/** The project root (dist/test/sendmail → ../../..). */
export const projectRoot = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..');
export const binDir = join(projectRoot, 'bin');

export interface Install {
  readonly dir: string;
  readonly configDir: string;
  readonly queueDir: string;
  readonly mainCf: string;
  cleanup(): Promise<void>;
}

export async function tempInstall(extraMainCf = ''): Promise<Install> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-tools-'));
  const configDir = join(dir, 'etc');
  const queueDir = join(dir, 'q');
  await mkdir(configDir);
  await mkdir(queueDir);
  const mainCf =
    `queue_directory = ${queueDir}\nmail_owner = ${userInfo().username}\n` +
    `myhostname = mx.example.net\nmydomain = example.net\nmyorigin = example.net\n${extraMainCf}`;
  await writeFile(join(configDir, 'main.cf'), mainCf);
  return { dir, configDir, queueDir, mainCf, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run bin/<cmd> with MAIL_CONFIG set; input goes to standard input. Bounded in time. */
export function runTool(
  inst: Install,
  cmd: string,
  args: readonly string[],
  input: string | Buffer = '',
  env: Record<string, string> = {},
  as?: { uid: number; gid: number },
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(binDir, cmd), ...args], {
      env: { ...process.env, MAIL_CONFIG: inst.configDir, TZ: 'UTC', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(as ? { uid: as.uid, gid: as.gid } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolvePromise({
        status,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** The native sendmail front, when `npm run build` could compile it. */
export const nativeSendmail = join(projectRoot, 'dist', 'native', 'postern-sendmail');

/**
 * Execute bin/<cmd> itself (its #! line decides what runs, as for a MUA or a
 * shell loop), rather than `node bin/<cmd>`. `path` replaces PATH: without
 * Node's directory in it, only the native front can succeed.
 */
export function runDirect(
  inst: Install,
  cmd: string,
  args: readonly string[],
  input: string | Buffer,
  opts: { path?: string; env?: Record<string, string>; as?: { uid: number; gid: number } } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(join(binDir, cmd), [...args], {
      env: {
        ...process.env,
        MAIL_CONFIG: inst.configDir,
        TZ: 'UTC',
        ...opts.env,
        PATH: opts.path ?? `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.as ? { uid: opts.as.uid, gid: opts.as.gid } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolvePromise({
        status,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** pickup → cleanup → store, in this process, over the install's queue directory. */
export async function openPipeline(
  inst: Install,
): Promise<{ store: SegmentStore; pickup: Pickup; log: MemoryLogger; close(): Promise<void> }> {
  const log = new MemoryLogger('postfix/pickup');
  const store = await SegmentStore.open({ queueDirectory: inst.queueDir, logger: log });
  const config = Config.fromText(inst.mainCf);
  const cleanup = new CleanupServer({ store, config, logger: log.child('cleanup') });
  const pickup = new Pickup({ queueDirectory: inst.queueDir, cleanup: () => cleanup, logger: log });
  return { store, pickup, log, close: () => store.close() };
}
