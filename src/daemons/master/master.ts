// master(8): the resident process of the mail system. Reads main.cf and
// master.cf, holds the pid-file lock, binds inet listeners (as root for port
// 25), runs the core worker (as mail_owner) and the delivery process (as
// master's user: local, virtual and pipe switch to each recipient), connects
// the two, restarts either with backoff when it dies, and answers signals: SIGHUP reload, SIGTERM/SIGINT graceful stop,
// SIGQUIT immediate stop (`postfix abort`).
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:net';
import { constants } from 'node:os';
import { dirname } from 'node:path';
import { checkMaillogFile, createLogger, LogConfigError, MailLogger } from '../../global/log/create-logger.js';
import { FatalError, type Logger } from '../../global/log/logger.js';
import { logFileDescriptor } from '../../global/log/sinks.js';
import type { MasterEntry } from '../../global/mastercf/types.js';
import { loadConfig, type Config } from '../../global/params/config.js';
import { entryId } from '../../global/service/service-host.js';
import { bindEndpoint } from './bind.js';
import { endpointKey, inetEndpoints } from './inet-endpoints.js';
import { toWire } from './ipc.js';
import { readMasterCf } from './master-cf.js';
import { prepareQueueDirs } from './queue-dirs.js';
import { acquirePidFile, AlreadyRunningError, pidFilePath, releasePidFile } from './pid-file.js';
import { unreachableBy, workerIdentity, type WorkerIdentity } from './privilege.js';
import { smtpdWorkers } from './smtpd-workers.js';
import { socketPair } from './socket-pair.js';
import { DELIVERY_PATH, WORKER_PATH, WorkerProcess } from './worker-process.js';

/** A worker that dies sooner than this after its start counts as a startup failure (throttled). */
const STARTUP_WINDOW_MS = 10_000;
const FIRST_BACKOFF_MS = 1_000;

export interface MasterOptions {
  readonly configDir: string;
  /** Called once: without an error when the mail system is up, with one when startup failed. */
  readonly onReady?: (err?: Error) => void;
}

export class Master {
  private config!: Config;
  /** No sinks until main.cf says where to log; startup errors go to the caller meanwhile. */
  private log: Logger = new MailLogger('postfix/master', [], 'postfix');
  private identity!: WorkerIdentity;
  private pidFile = '';
  private entries: MasterEntry[] = [];
  /** inet entry id -> endpoint keys the worker holds sockets for. */
  private held = new Map<string, string[]>();
  private worker: WorkerProcess | undefined;
  private delivery: WorkerProcess | undefined;
  /** The smtpd worker (postern_smtpd_workers, smtpd-workers.ts): hosts the smtpd inet services and anvil. */
  private smtpd: WorkerProcess | undefined;
  /** Fixed at start: moving services between processes needs `postfix stop; postfix start`. */
  private split = false;
  private stopping = false;
  /** Set once the first worker reported ready; before that a worker death fails the start. */
  private up = false;
  /** Quick deaths in a row, per process name (throttling). */
  private failures = new Map<string, number>();
  private restartTimers = new Map<string, NodeJS.Timeout>();
  private done!: (code: number) => void;
  readonly finished = new Promise<number>((resolve) => (this.done = resolve));

  constructor(private readonly configDir: string) {}

  /** Load configuration and logging; throws on errors the caller reports. */
  private loadConfiguration(): { config: Config; entries: MasterEntry[]; warnings: string[] } {
    const config = loadConfig(this.configDir);
    const p = config.problems[0];
    if (p) throw new Error(`${config.source}: line ${p.line}: ${p.message}`);
    const mcf = readMasterCf(this.configDir);
    const first = mcf.problems[0];
    if (first) throw new Error(`${first.file}: line ${first.line}: ${first.message}`);
    return {
      config,
      entries: mcf.entries,
      warnings: mcf.warnings.map((w) => `${w.file}: line ${w.line}: ${w.message}`),
    };
  }

  logError(text: string): void {
    this.log.error(text);
  }

  /** Record a startup failure in the mail log when logging is already set up. */
  logFatal(text: string): void {
    try {
      this.log.fatal(text);
    } catch {
      // fatal() throws by design; the caller returns the exit status
    }
  }

  async start(): Promise<void> {
    const { config, entries, warnings } = this.loadConfiguration();
    this.config = config;
    this.entries = entries;
    checkMaillogFile(config);
    this.log = createLogger(config, 'master');
    for (const w of warnings) this.log.warning(w);
    this.identity = workerIdentity(config);
    const choice = smtpdWorkers(config);
    this.split = choice.workers === 1;
    if (choice.warning) this.log.warning(`${config.source}: ${choice.warning}`);
    const queueDir = config.get('queue_directory');
    mkdirSync(`${queueDir}/${config.get('process_id_directory')}`, { recursive: true, mode: 0o755 });
    // The worker reads main.cf, loads its code and starts in the queue as mail_owner.
    for (const [what, dir] of [
      ['queue_directory', queueDir],
      ['config_directory', this.configDir],
      ['Postern program directory', dirname(WORKER_PATH)],
    ]) {
      const unreachable = unreachableBy(dir ?? '/', this.identity);
      if (unreachable) throw new Error(`${what} ${dir}: ${unreachable}`);
    }
    this.pidFile = pidFilePath(queueDir, config.get('process_id_directory'));
    acquirePidFile(this.pidFile);
    try {
      prepareQueueDirs(queueDir, this.identity);
      const sockets = await this.bindAll(entries, true, true);
      this.log.info(`daemon started -- version ${config.get('mail_version')}, configuration ${this.configDir}`);
      await this.startDelivery(false);
      await this.startWorker(sockets, false);
      this.up = true;
    } catch (e) {
      this.stopping = true;
      await this.smtpd?.stop(false);
      await this.worker?.stop(false);
      await this.delivery?.stop(false);
      releasePidFile(this.pidFile);
      throw e;
    }
  }

  /**
   * Bind sockets of inet entries that the worker does not hold yet (every
   * entry when `all`). `strict` (startup): any failure fails the start, as
   * for Postfix; otherwise (reload, worker restart) the entry is logged and
   * skipped so the other services keep running.
   */
  private async bindAll(
    entries: MasterEntry[],
    all: boolean,
    strict = false,
  ): Promise<Map<string, Map<string, Server>>> {
    const out = new Map<string, Map<string, Server>>();
    const closeAll = (m: Map<string, Server>): void => m.forEach((s) => s.close());
    for (const e of entries) {
      if (e.type !== 'inet') continue;
      const id = entryId(e);
      const servers = new Map<string, Server>();
      try {
        const endpoints = inetEndpoints(e.name, this.config.withOverrides(e.overrides));
        const keys = endpoints.map(endpointKey);
        const had = this.held.get(id);
        if (!all && had && had.join(' ') === keys.join(' ')) continue;
        for (const ep of endpoints) servers.set(endpointKey(ep), await bindEndpoint(ep));
        out.set(id, servers);
      } catch (err) {
        closeAll(servers);
        if (strict) {
          out.forEach(closeAll);
          throw err;
        }
        this.log.warning(`master.cf line ${e.line}: service ${id}: ${(err as Error).message}; service skipped`);
      }
    }
    return out;
  }

  private fork(
    name: string,
    path: string,
    identity: WorkerIdentity | Record<string, never>,
    args: string[] = [],
  ): WorkerProcess {
    const file = this.config.get('maillog_file');
    const child: WorkerProcess = new WorkerProcess({
      name,
      path,
      args,
      identity,
      cwd: this.config.get('queue_directory'),
      logFile: file ? { path: file, fd: logFileDescriptor(file) } : undefined,
      onExit: (code, signal) => this.workerExited(child, code, signal),
      onBadMessage: () => this.log.warning(`ignoring malformed message from the ${name} process`),
    });
    return child;
  }

  /**
   * The delivery process hosts local, virtual and pipe. It keeps master's
   * user (root in production), because its agents switch to each recipient.
   */
  private async startDelivery(reload: boolean): Promise<void> {
    const fresh = !this.delivery?.alive;
    if (fresh) this.delivery = this.fork('delivery', DELIVERY_PATH, {});
    const delivery = this.delivery as WorkerProcess;
    await delivery.configure({
      type: 'configure',
      configDir: this.configDir,
      entries: this.entries.map(toWire),
      reload,
    });
    if (fresh && this.worker?.alive) await this.connect();
  }

  /** A new core ↔ delivery channel, after either side (re)started. */
  private async connect(): Promise<void> {
    const core = this.worker;
    const delivery = this.delivery;
    if (!core?.alive || !delivery?.alive) return;
    const [a, b] = await socketPair();
    await delivery.sendChannel(b);
    await core.sendChannel(a);
  }

  private inSmtpdWorker(e: MasterEntry): boolean {
    const cmd = e.command.replace(/^.*\//, '');
    return this.split && ((e.type === 'inet' && cmd === 'smtpd') || cmd === 'anvil');
  }

  /**
   * Start or reconfigure the core worker and, with postern_smtpd_workers = 1,
   * the smtpd worker; `parts` names which (a restart concerns only the dead one).
   */
  private async startWorker(
    sockets: Map<string, Map<string, Server>>,
    reload: boolean,
    parts: { core: boolean; smtpd: boolean } = { core: true, smtpd: true },
  ): Promise<void> {
    let coreFresh = false;
    if (parts.core) {
      if (!this.worker?.alive) {
        this.worker = this.fork('core', WORKER_PATH, this.identity);
        coreFresh = true;
        // before its services start, so that qmgr's first local delivery finds the channel
        await this.connect();
      }
      const coreEntries = this.entries.filter((e) => !this.inSmtpdWorker(e));
      await this.configureWorker(this.worker, coreEntries, sockets, reload);
    }
    if (!this.split) return;
    if (!parts.smtpd) {
      if (coreFresh) await this.connectSmtpd();
      return;
    }
    let fresh = false;
    if (!this.smtpd?.alive) {
      this.smtpd = this.fork('smtpd', WORKER_PATH, this.identity, ['smtpd']);
      fresh = true;
    }
    if (fresh || coreFresh) await this.connectSmtpd();
    await this.configureWorker(
      this.smtpd,
      this.entries.filter((e) => this.inSmtpdWorker(e)),
      sockets,
      reload,
    );
  }

  /** A new core ↔ smtpd channel, after either side (re)started. */
  private async connectSmtpd(): Promise<void> {
    const core = this.worker;
    const smtpd = this.smtpd;
    if (!core?.alive || !smtpd?.alive) return;
    const [a, b] = await socketPair();
    await core.sendChannel(a, 'smtpd');
    await smtpd.sendChannel(b, 'smtpd');
  }

  private async configureWorker(
    worker: WorkerProcess,
    entries: MasterEntry[],
    sockets: Map<string, Map<string, Server>>,
    reload: boolean,
  ): Promise<void> {
    const mine = new Set(entries.map(entryId));
    for (const [id, servers] of sockets) {
      if (!mine.has(id)) continue;
      for (const [key, server] of servers) await worker.sendListener(id, key, server);
      this.held.set(id, [...servers.keys()]);
    }
    const report = await worker.configure({
      type: 'configure',
      configDir: this.configDir,
      entries: entries.map(toWire),
      reload,
    });
    for (const id of report.closed) this.held.delete(id);
    for (const id of [...this.held.keys()]) if (!this.entries.some((e) => entryId(e) === id)) this.held.delete(id);
  }

  private workerExited(child: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || !this.up) return;
    const name = child.name;
    const how = signal ? `killed by signal ${constants.signals[signal] ?? signal}` : `exit status ${code}`;
    this.log.warning(`process ${name} pid ${child.pid ?? '?'} ${how}`);
    if (name === 'core' || name === 'smtpd')
      for (const e of this.entries) if ((name === 'smtpd') === this.inSmtpdWorker(e)) this.held.delete(entryId(e));
    const quick = Date.now() - child.startedAt < STARTUP_WINDOW_MS;
    const failures = quick ? (this.failures.get(name) ?? 0) + 1 : 0;
    this.failures.set(name, failures);
    const limit = this.config.time('service_throttle_time') * 1000;
    const delay = quick ? Math.min(FIRST_BACKOFF_MS * 2 ** (failures - 1), limit) : 0;
    if (quick) this.log.warning(`${name}: bad command startup -- throttling for ${Math.round(delay / 1000)}s`);
    // only the dead process's sockets are re-bound: the other worker still holds its own
    const own = this.entries.filter((e) => (name === 'smtpd') === this.inSmtpdWorker(e));
    const restart = (): Promise<void> =>
      name === 'core' || name === 'smtpd'
        ? this.bindAll(own, true).then((s) =>
            this.startWorker(s, false, { core: name === 'core', smtpd: name === 'smtpd' }),
          )
        : this.startDelivery(false);
    this.restartTimers.set(
      name,
      setTimeout(() => {
        this.restartTimers.delete(name);
        restart().catch((e: unknown) => this.log.warning(`restarting the ${name} process: ${(e as Error).message}`));
      }, delay),
    );
  }

  /** `postfix reload`: new main.cf and master.cf; kept services reload in place. */
  async reload(): Promise<void> {
    if (this.stopping) return;
    let loaded;
    try {
      loaded = this.loadConfiguration();
      checkMaillogFile(loaded.config);
    } catch (e) {
      this.log.error(`reload: ${(e as Error).message}; keeping the previous configuration`);
      return;
    }
    this.config = loaded.config;
    this.entries = loaded.entries;
    try {
      this.log = createLogger(this.config, 'master');
    } catch (e) {
      if (!(e instanceof LogConfigError)) throw e;
    }
    this.log.info(`reload -- version ${this.config.get('mail_version')}, configuration ${this.configDir}`);
    for (const w of loaded.warnings) this.log.warning(w);
    if ((smtpdWorkers(this.config).workers === 1) !== this.split)
      this.log.warning('reload: a new postern_smtpd_workers value takes effect at the next postfix start');
    // a process that is down picks the new configuration up when its pending restart runs
    if (this.delivery?.alive) await this.startDelivery(true);
    const parts = { core: this.worker?.alive === true, smtpd: this.smtpd?.alive === true };
    const live = this.entries.filter((e) => (this.inSmtpdWorker(e) ? parts.smtpd : parts.core));
    if (parts.core || parts.smtpd) await this.startWorker(await this.bindAll(live, false), true, parts);
  }

  async stop(graceful: boolean, signal: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info(`terminating on signal ${signal}`);
    for (const t of this.restartTimers.values()) clearTimeout(t);
    try {
      // the core first: qmgr's deliveries in progress still need the delivery process
      await this.smtpd?.stop(graceful);
      await this.worker?.stop(graceful);
      await this.delivery?.stop(graceful);
    } finally {
      releasePidFile(this.pidFile);
      this.done(0);
    }
  }
}

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 };

/** Run master until it is stopped; resolves with the exit status. */
export async function runMaster(opts: MasterOptions): Promise<number> {
  const master = new Master(opts.configDir);
  // Handlers go in before startup, so that a signal during startup is not
  // Node's default (instant death, no pid file cleanup) but waits for it.
  let started = false;
  let pending: (() => void) | undefined;
  const when = (action: () => void) => () => {
    if (started) action();
    else pending = action;
  };
  const handlers: [NodeJS.Signals, () => void][] = [
    [
      'SIGHUP',
      when(() => void master.reload().catch((e: unknown) => master.logError(`reload: ${(e as Error).message}`))),
    ],
    ['SIGTERM', when(() => void master.stop(true, String(SIGNAL_NUMBERS.SIGTERM)))],
    ['SIGINT', when(() => void master.stop(true, String(SIGNAL_NUMBERS.SIGINT)))],
    ['SIGQUIT', when(() => void master.stop(false, String(SIGNAL_NUMBERS.SIGQUIT)))],
  ];
  for (const [sig, h] of handlers) process.on(sig, h);
  try {
    try {
      await master.start();
    } catch (e) {
      const err =
        e instanceof AlreadyRunningError ? new Error('the Postfix mail system is already running') : (e as Error);
      if (!(e instanceof FatalError)) master.logFatal(err.message);
      opts.onReady?.(err);
      return 1;
    }
    opts.onReady?.();
    started = true;
    pending?.();
    return await master.finished;
  } finally {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
  }
}
