// master's handle on a worker process (the core worker, or the delivery
// process): fork it (the core as mail_owner when master is root; the delivery
// process keeps master's user), pass sockets and configuration over IPC, wait
// for it to report ready, stop it, and tell master when it dies unexpectedly.
import { fork, type ChildProcess } from 'node:child_process';
import type { Server, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodeWorkerMessage,
  ENV_MAILLOG_FD,
  ENV_MAILLOG_FILE,
  type MasterToWorker,
  type WorkerToMaster,
} from './ipc.js';
import type { WorkerIdentity } from './privilege.js';

export const WORKER_PATH = join(dirname(fileURLToPath(import.meta.url)), 'core-worker.js');
export const DELIVERY_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'delivery', 'delivery-worker.js');

/** Longest wait for the worker to configure its services. */
const READY_TIMEOUT_MS = 60_000;
/** Longest wait for a graceful stop before the worker is killed. */
const STOP_TIMEOUT_MS = 15_000;

export type ReadyReport = Extract<WorkerToMaster, { type: 'ready' }>;

export interface WorkerOptions {
  /** `core` or `delivery`, for messages. */
  readonly name: string;
  /** The module to fork (WORKER_PATH, DELIVERY_PATH). */
  readonly path: string;
  /** Arguments for the module (the core worker's role: `smtpd`). */
  readonly args?: readonly string[];
  /** uid/gid to switch to; empty to keep master's. */
  readonly identity: Pick<WorkerIdentity, 'uid' | 'gid'>;
  readonly cwd: string;
  /** maillog_file and its descriptor opened by master, passed to the worker. */
  readonly logFile?: { readonly path: string; readonly fd: number };
  readonly onExit: (code: number | null, signal: NodeJS.Signals | null) => void;
  readonly onBadMessage: () => void;
}

export class WorkerProcess {
  private readonly child: ChildProcess;
  private waiters: ((r: ReadyReport | Error) => void)[] = [];
  private exited = false;
  readonly startedAt = Date.now();
  readonly name: string;

  constructor(opts: WorkerOptions) {
    this.name = opts.name;
    const stdio: ('ignore' | 'inherit' | 'ipc' | number)[] = ['ignore', 'inherit', 'inherit', 'ipc'];
    const env = { ...process.env };
    delete env[ENV_MAILLOG_FD];
    delete env[ENV_MAILLOG_FILE];
    // Client-name lookups (getnameinfo/getaddrinfo) share libuv's thread pool with
    // queue file I/O; the default four threads would let slow DNS stall the queue.
    env.UV_THREADPOOL_SIZE ??= '16';
    if (opts.logFile && opts.logFile.fd > 2) {
      stdio.push(opts.logFile.fd);
      env[ENV_MAILLOG_FD] = String(stdio.length - 1);
      env[ENV_MAILLOG_FILE] = opts.logFile.path;
    }
    // Profiling and tuning hook for bench/ (e.g. "--cpu-prof --cpu-prof-dir=DIR"):
    // Node refuses --cpu-prof in NODE_OPTIONS, and master's own flags are not the worker's.
    const extra = process.env.POSTERN_WORKER_EXECARGV?.split(' ').filter(Boolean) ?? [];
    this.child = fork(opts.path, [...(opts.args ?? [])], {
      cwd: opts.cwd,
      execArgv: [...process.execArgv, ...extra],
      env,
      stdio,
      uid: opts.identity.uid,
      gid: opts.identity.gid,
      serialization: 'json',
    });
    this.child.on('message', (raw) => {
      const msg = decodeWorkerMessage(raw);
      if (!msg) return opts.onBadMessage();
      if (msg.type === 'ready') for (const w of this.waiters.splice(0)) w(msg);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      for (const w of this.waiters.splice(0))
        w(new Error(`${this.name} process exited (${signal ?? `status ${code}`})`));
      opts.onExit(code, signal);
    });
    this.child.on('error', () => undefined); // exit follows; send errors after exit are expected
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Hand over a listening socket, then close master's copy so that only the worker accepts. */
  sendListener(service: string, endpoint: string, server: Server): Promise<void> {
    const msg: MasterToWorker = { type: 'listener', service, endpoint };
    return new Promise((resolve, reject) => {
      this.child.send(msg, server, (err) => {
        server.close();
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** Hand over one end of the core ↔ delivery channel; master's copy is closed once sent. */
  sendChannel(socket: Socket, peer?: 'smtpd'): Promise<void> {
    const msg: MasterToWorker = peer ? { type: 'channel', peer } : { type: 'channel' };
    return new Promise((resolve, reject) => {
      this.child.send(msg, socket, (err) => {
        socket.destroy();
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** Send the configuration and wait until the worker has (re)started its services. */
  configure(msg: Extract<MasterToWorker, { type: 'configure' }>): Promise<ReadyReport> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} process did not become ready`)), READY_TIMEOUT_MS);
      this.waiters.push((r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      });
      this.child.send(msg, (err) => {
        if (err) reject(err);
      });
    });
  }

  /** graceful: ask, wait, then kill; otherwise kill now. Resolves when the process is gone. */
  async stop(graceful: boolean): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (graceful && this.child.connected) {
      this.child.send({ type: 'stop', graceful: true } satisfies MasterToWorker, () => undefined);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await gone;
      clearTimeout(timer);
      return;
    }
    this.child.kill('SIGKILL');
    await gone;
  }
}
