// Resource accounting for one server under test: a cgroup holds every process
// it starts (Postfix's master and all its children, Haraka, Postern's master
// and workers, or smtp-sink), so CPU time comes from the kernel's cgroup
// counters (cgroup v1 cpuacct, or v2 cpu.stat) including processes that have
// already exited, and memory is the peak of the summed PSS/RSS of the
// cgroup's live processes from /proc/<pid>/smaps_rollup, sampled.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SyncCounter } from './sync-counter.mjs';

const V1 = '/sys/fs/cgroup/cpuacct';
const V2 = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => existsSync(join(d, 'cgroup.controllers')));

function base() {
  if (existsSync(join(V1, 'cpuacct.usage'))) return { dir: join(V1, 'postern-bench'), v: 1 };
  if (V2) return { dir: join(V2, 'postern-bench'), v: 2 };
  throw new Error('no cgroup cpuacct (v1) or cgroup v2 hierarchy found: the harness needs one (and root)');
}

let seq = 0;

export class Meter {
  static async create(label) {
    const b = base();
    await mkdir(b.dir, { recursive: true });
    const name = `${label}-${process.pid}-${++seq}`;
    const dir = join(b.dir, name);
    await mkdir(dir);
    // On a cgroup v2 system the CPU group is also the one perf counts in; on v1 a v2 twin holds the same processes.
    const syncs = await SyncCounter.create(b.v === 2 ? `postern-bench/${name}` : `postern-bench-syncs/${name}`);
    return new Meter(dir, b.v, syncs);
  }

  constructor(dir, v, syncs) {
    this.dir = dir;
    this.v = v;
    this.syncs = syncs;
    this.procsFile = join(dir, 'cgroup.procs');
    /** Every cgroup a process of the server must join (the CPU group, and the sync-counting one when separate). */
    this.joinFiles = [this.procsFile, syncs.procsFile].filter((f, i, all) => f && all.indexOf(f) === i);
    this.peakPss = 0;
    this.peakRss = 0;
    this.timer = undefined;
  }

  /** CPU seconds {user, sys} the cgroup has used so far. */
  async cpuNow() {
    if (this.v === 1) {
      const u = Number(await readFile(join(this.dir, 'cpuacct.usage_user'), 'utf8'));
      const s = Number(await readFile(join(this.dir, 'cpuacct.usage_sys'), 'utf8'));
      return { user: u / 1e9, sys: s / 1e9 };
    }
    const stat = await readFile(join(this.dir, 'cpu.stat'), 'utf8');
    const f = (k) => Number(new RegExp(`^${k} (\\d+)`, 'm').exec(stat)?.[1] ?? NaN) / 1e6;
    return { user: f('user_usec'), sys: f('system_usec') };
  }

  async pids() {
    const text = await readFile(this.procsFile, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map(Number);
  }

  /** Sum of PSS and RSS (bytes) over the cgroup's live processes, and how many there are. */
  async memory() {
    let pss = 0;
    let rss = 0;
    const pids = await this.pids();
    for (const pid of pids) {
      const t = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
      pss += Number(/^Pss:\s+(\d+)/m.exec(t)?.[1] ?? 0) * 1024;
      rss += Number(/^Rss:\s+(\d+)/m.exec(t)?.[1] ?? 0) * 1024;
    }
    return { pss, rss, procs: pids.length };
  }

  async sample() {
    const m = await this.memory();
    this.peakPss = Math.max(this.peakPss, m.pss);
    this.peakRss = Math.max(this.peakRss, m.rss);
    return m;
  }

  /** Marks the start of a measured interval: CPU baseline and memory sampling. */
  async begin(everyMs = 300) {
    this.cpu0 = await this.cpuNow();
    this.procCpu0 = process.env.BENCH_PER_PROCESS ? await this.procCpu() : undefined;
    this.peakPss = 0;
    this.peakRss = 0;
    this.syncs.start();
    await this.sample();
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.sample().finally(() => (busy = false));
    }, everyMs);
  }

  /** Ends the interval: CPU seconds used since begin() and peak memory. */
  async end() {
    clearInterval(this.timer);
    await this.sample();
    const c = await this.cpuNow();
    const syncs = await this.syncs.stop();
    if (this.procCpu0) await this.printProcCpu();
    return {
      user: c.user - this.cpu0.user,
      sys: c.sys - this.cpu0.sys,
      peakPss: this.peakPss,
      peakRss: this.peakRss,
      syncs,
    };
  }

  /** CPU seconds per live process (user+sys from /proc/<pid>/stat) with its command line: BENCH_PER_PROCESS=1. */
  async procCpu() {
    const out = new Map();
    const tick = 100; // USER_HZ on Linux
    for (const pid of await this.pids()) {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim();
      if (f.length > 13) out.set(pid, { cpu: (Number(f[11]) + Number(f[12])) / tick, cmd: cmd.slice(-60) });
    }
    return out;
  }

  async printProcCpu() {
    const now = await this.procCpu();
    const rows = [...now].map(([pid, v]) => [v.cpu - (this.procCpu0.get(pid)?.cpu ?? 0), pid, v.cmd]);
    rows.sort((a, b) => b[0] - a[0]);
    for (const [cpu, pid, cmd] of rows.slice(0, 8)) process.stderr.write(`  cpu ${cpu.toFixed(2)} s  ${pid}  ${cmd}\n`);
  }

  /** Kills whatever is still in the cgroup (after the target's own stop) and removes it. */
  async close() {
    clearInterval(this.timer);
    for (let i = 0; i < 50; i++) {
      const pids = await this.pids();
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, i < 10 ? 'SIGTERM' : 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await rmdir(this.dir).catch(() => writeFile(join(this.dir, 'notify_on_release'), '1').catch(() => {}));
    await this.syncs.close();
  }
}
