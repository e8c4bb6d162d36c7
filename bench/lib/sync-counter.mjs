// Counts the fsync(2) and fdatasync(2) calls of one server under test, so the
// report can say how many syncs each target pays per message (issue 10 asks
// for it beside the durability claim). perf's syscall tracepoints, counted
// system-wide but only for tasks in one cgroup v2 group (`perf stat -a -G`),
// follow every process the server forks, including short-lived ones, at the
// cost of a counter increment per call. Without perf or a cgroup v2 mount the
// count is simply unknown.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => existsSync(join(d, 'cgroup.procs')));
const EVENTS = ['syscalls:sys_enter_fsync', 'syscalls:sys_enter_fdatasync'];

function perfUsable() {
  if (!ROOT) return false;
  const r = spawnSync('perf', ['list', 'tracepoint'], { encoding: 'utf8' });
  return r.status === 0 && EVENTS.every((e) => r.stdout.includes(e));
}

let usable;

export class SyncCounter {
  /** A counter whose group is `rel` under the cgroup v2 root (created if missing), or one that counts nothing. */
  static async create(rel) {
    usable ??= perfUsable();
    if (!usable) return new SyncCounter(undefined, rel);
    const dir = join(ROOT, rel);
    await mkdir(dir, { recursive: true });
    return new SyncCounter(dir, rel);
  }

  constructor(dir, rel) {
    this.dir = dir;
    this.rel = rel;
    /** Where a process is written to join the group (undefined: not counting). */
    this.procsFile = dir ? join(dir, 'cgroup.procs') : undefined;
    this.perf = undefined;
  }

  start() {
    if (!this.dir) return;
    const args = ['stat', '-x', ',', '-a'];
    for (const e of EVENTS) args.push('-e', e);
    args.push('-G', EVENTS.map(() => this.rel).join(','));
    this.perf = spawn('perf', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.err = '';
    this.perf.stderr.on('data', (d) => (this.err += d));
    this.exited = new Promise((r) => this.perf.on('exit', r));
  }

  /** Stops counting; the number of fsync + fdatasync calls since start(), or NaN when unknown. */
  async stop() {
    if (!this.perf) return NaN;
    this.perf.kill('SIGINT');
    await this.exited;
    this.perf = undefined;
    let total = 0;
    let seen = 0;
    for (const line of this.err.split('\n')) {
      const f = line.split(',');
      if (f.length > 3 && EVENTS.includes(f[2])) {
        total += Number(f[0]);
        seen++;
      }
    }
    return seen === EVENTS.length && Number.isFinite(total) ? total : NaN;
  }

  async close() {
    if (this.perf) await this.stop();
    if (this.dir) await rmdir(this.dir).catch(() => {});
  }
}
