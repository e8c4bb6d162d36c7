// Runs master.cf entries as service modules inside one process (the core
// worker): starts them, applies `postfix reload` (reload in place when the
// entry is unchanged, else restart), and stops them. It owns the listening
// sockets, so a restarted service keeps its port and no connection is refused.
import type { Server } from 'node:net';
import { createLogger } from '../log/create-logger.js';
import type { Logger } from '../log/logger.js';
import type { MasterEntry } from '../mastercf/types.js';
import type { ParamReader } from '../params/types.js';
import { ServiceDirectory } from './directory.js';
import { HeldListener } from './held-listener.js';
import { resolveService } from './registry.js';
import type { RunningService } from './service-api.js';

/** Longest wait for a graceful stop() before the host moves on. */
const STOP_GRACE_MS = 10_000;

interface Hosted {
  entry: MasterEntry;
  /** The effective syslog_name the running service's logger was made with. */
  syslogName?: string;
  listeners: HeldListener[];
  running?: RunningService;
}

export interface HostSummary {
  readonly started: number;
  readonly skipped: number;
  /** inet entries whose sockets the host closed (nothing serves them); master re-binds them on reload. */
  readonly closed: string[];
}

export function entryId(e: { name: string; type: string }): string {
  return `${e.name}/${e.type}`;
}

/** Same program with the same arguments: new main.cf or -o values can be applied by reload(). */
function sameProgram(a: MasterEntry, b: MasterEntry): boolean {
  return a.command === b.command && a.args.join('\0') === b.args.join('\0');
}

/**
 * The service's own configuration: Postfix sets the read-only service_name,
 * process_name and process_id for each daemon, so `-o syslog_name=postfix/$service_name`
 * from the stock master.cf works; then the entry's -o overrides.
 */
export function serviceConfigOf(config: ParamReader, entry: MasterEntry): ParamReader {
  const command = entry.command.replace(/^.*\//, '').replace(/\.m?js$/, '');
  return config
    .withOverrides({ service_name: entry.name, process_name: command, process_id: String(process.pid) })
    .withOverrides(entry.overrides);
}

/**
 * unix/fifo services first, so that APIs in the directory exist before inet
 * sessions arrive; among them the queue manager last, so that the delivery
 * agents it looks up are published before its restart recovery schedules
 * mail (Postfix's master spawns agents on demand, so its qmgr never sees one missing).
 */
const SCHEDULERS = new Set(['qmgr', 'oqmgr']);
const startOrder = (e: MasterEntry): number => (e.type === 'inet' ? 2 : SCHEDULERS.has(e.command) ? 1 : 0);

export class ServiceHost {
  private readonly hosted = new Map<string, Hosted>();
  readonly directory = new ServiceDirectory();

  constructor(private readonly log: Logger) {}

  /**
   * Bring the hosted set in line with `entries`. `listeners` holds the
   * sockets for inet entries that are new (or whose sockets were replaced);
   * entries kept from before keep theirs.
   */
  async apply(
    config: ParamReader,
    entries: readonly MasterEntry[],
    listeners: Map<string, Server[]>,
  ): Promise<HostSummary> {
    const wanted = new Map(entries.map((e) => [entryId(e), e]));
    for (const [id, h] of this.hosted) {
      if (!wanted.has(id)) {
        await this.stopOne(h, true);
        for (const l of h.listeners) l.close();
        this.hosted.delete(id);
      }
    }
    let started = 0;
    let skipped = 0;
    const closed: string[] = [];
    for (const entry of [...entries].sort((a, b) => startOrder(a) - startOrder(b))) {
      const id = entryId(entry);
      const fresh = listeners.get(id);
      let h = this.hosted.get(id);
      if (h && fresh) {
        // master re-bound this entry's sockets (addresses changed): restart on the new ones
        await this.stopOne(h, true);
        for (const l of h.listeners) l.close();
        h = undefined;
      }
      if (!h) {
        h = { entry, listeners: (fresh ?? []).map((s) => new HeldListener(s)) };
        this.hosted.set(id, h);
      } else if (
        h.running &&
        h.running.reload &&
        sameProgram(h.entry, entry) &&
        // the logger's tag is fixed at start: a new syslog_name needs a restart, as in Postfix
        h.syslogName === serviceConfigOf(config, entry).get('syslog_name')
      ) {
        h.entry = entry;
        try {
          await h.running.reload(serviceConfigOf(config, entry));
          started++;
          continue;
        } catch (e) {
          this.log.warning(`${id}: reload failed: ${(e as Error).message}; restarting the service`);
        }
      }
      if (h.running) await this.stopOne(h, true);
      h.entry = entry;
      if (await this.startOne(config, h)) started++;
      else {
        skipped++;
        if (entry.type === 'inet' && h.listeners.length === 0) {
          closed.push(id);
          this.hosted.delete(id);
        }
      }
    }
    return { started, skipped, closed };
  }

  private async startOne(config: ParamReader, h: Hosted): Promise<boolean> {
    const { entry } = h;
    const where = `master.cf line ${entry.line}: service ${entryId(entry)}`;
    const resolution = resolveService(entry.command);
    if (resolution.kind !== 'module') {
      this.log.warning(
        resolution.kind === 'unsupported'
          ? `${where}: command ${entry.command} is not yet supported; service skipped`
          : `${where}: unknown command ${entry.command}; service skipped`,
      );
      // Nobody will serve these sockets: close them so clients are refused, not left hanging.
      for (const l of h.listeners) l.close();
      h.listeners = [];
      return false;
    }
    if (entry.type === 'inet' && h.listeners.length === 0) {
      this.log.warning(`${where}: no listening socket; service skipped`);
      return false;
    }
    const serviceConfig = serviceConfigOf(config, entry);
    h.syslogName = serviceConfig.get('syslog_name');
    let logger: Logger;
    try {
      logger = createLogger(serviceConfig, entry.command.replace(/^.*\//, '').replace(/\.m?js$/, ''));
    } catch (e) {
      this.log.warning(`${where}: ${(e as Error).message}; using the master's log settings`);
      logger = this.log.child(entry.command);
    }
    try {
      const mod = await resolution.load();
      h.running = await mod.start({
        entry,
        config: serviceConfig,
        logger,
        listeners: h.listeners.map((l) => l.server),
        directory: this.directory,
      });
    } catch (e) {
      this.log.warning(`${where}: ${entry.command} failed to start: ${(e as Error).message}`);
      // refuse clients rather than hold them; master binds again at the next reload
      for (const l of h.listeners) l.close();
      h.listeners = [];
      return false;
    }
    for (const l of h.listeners) l.release();
    return true;
  }

  private async stopOne(h: Hosted, graceful: boolean): Promise<void> {
    const running = h.running;
    h.running = undefined;
    for (const l of h.listeners) l.pause();
    if (!running) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.log.warning(`service ${entryId(h.entry)}: graceful stop still running after ${STOP_GRACE_MS / 1000}s`);
        resolve();
      }, STOP_GRACE_MS);
      timer.unref();
    });
    try {
      await (graceful ? Promise.race([running.stop(true), timeout]) : running.stop(false));
    } catch (e) {
      this.log.warning(`service ${entryId(h.entry)}: stop: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stop every service and close every socket. */
  async stopAll(graceful: boolean): Promise<void> {
    await Promise.all([...this.hosted.values()].map((h) => this.stopOne(h, graceful)));
    for (const h of this.hosted.values()) for (const l of h.listeners) l.close();
    this.hosted.clear();
  }
}
