// The `local` scenario (smtp-source → queue → local(8) → a user's Maildir)
// for quick A/B comparisons while working on the delivery path: one round per
// build or target, interleaved, with each server process's CPU per 1,000
// messages (where bench/RESULTS.md only has the cgroup's total), so a change
// shows in the process it touched: the core worker (smtpd, cleanup, qmgr),
// the delivery process, the mailbox helpers. Same instance files, load and
// "done" test as bench/harness.mjs (which remains the reference figure).
// Usage, as root, after bench/run.sh has set up the user pbench:
//   node bench/local-ab.mjs [--n 1000] [--rounds 2] TARGET...
// TARGET: `postfix`, or a Postern checkout that has been built (its root
// directory; `.` for this one). Add MODE=discard to the environment for the
// same load discarded instead (the ingest baseline of the same run).
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let n = 1000;
let rounds = 1;
const targets = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--n') n = Number(args[++i]);
  else if (args[i] === '--rounds') rounds = Number(args[++i]);
  else targets.push(args[i]);
}
if (targets.length === 0) targets.push('.', 'postfix');
const mode = process.env.MODE === 'discard' ? 'discard' : 'local';
const { freePort, until, timed } = await import(join(BENCH, 'lib', 'util.mjs'));

const pw = (name) => {
  const l = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':');
  return { name, uid: Number(l[2]), gid: Number(l[3]), home: l[5] };
};
const out = join(BENCH, 'out', 'local-ab');
await mkdir(out, { recursive: true });
const localUser = pw('pbench');

/** user+system CPU seconds of each live process of the instance, with its command line. */
async function perProcess(meter) {
  const m = new Map();
  for (const pid of await meter.pids()) {
    try {
      const st = await readFile(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      const name = cmd.find((a) => /\.js$|postern-deliver$/.test(a)) ?? cmd[0] ?? '?';
      // utime, stime, and the children this process has reaped (Postfix's master, forked helpers).
      m.set(pid, { name: name.split('/').pop(), cpu: (+f[11] + +f[12] + +f[13] + +f[14]) / 100 });
    } catch {
      // exited meanwhile
    }
  }
  return m;
}

async function once(target) {
  // The target modules resolve Postern's checkout from POSTERN_ROOT when they load: one child per run.
  const { postern, postfix, resetMaildir } = await import(join(BENCH, 'lib', 'targets', 'postfix-like.mjs'));
  const t = target === 'postfix' ? postfix : postern;
  const port = await freePort();
  const scn = { id: `ab-${mode}`, mode, size: 1024, n, sessions: 20 };
  const inst = await t.start(scn, { out, mailOwner: pw('postfix'), localUser, round: 1, port, sinkPort: port });
  try {
    await resetMaildir(localUser.home, localUser.uid, localUser.gid);
    const before = await perProcess(inst.meter);
    await inst.meter.begin();
    const t0 = performance.now();
    const rcpt = mode === 'local' ? `${localUser.name}@localhost` : 'user@example.com';
    const source = ['-s', '20', '-l', '1024', '-m', String(n), '-f', 'bench@bench.test', '-t', rcpt];
    const load = await timed(['/usr/sbin/smtp-source', ...source, `127.0.0.1:${port}`], {
      tmpFile: join(out, 'time.txt'),
      timeoutMs: 900000,
    });
    if (load.code !== 0) throw new Error(`smtp-source failed: ${load.stderr.trim()}`);
    let done = 0;
    if (mode === 'local') {
      const dir = join(localUser.home, 'Maildir', 'new');
      await until(async () => (done = (await readdir(dir).catch(() => [])).length) >= n, 120000, 50);
    } else {
      done = (await inst.drained(n, 120000)).delivered;
    }
    const wall = (performance.now() - t0) / 1000;
    const m = await inst.meter.end();
    const after = await perProcess(inst.meter);
    const parts = new Map();
    for (const [pid, a] of after) {
      const d = a.cpu - (before.get(pid)?.cpu ?? 0);
      parts.set(a.name, (parts.get(a.name) ?? 0) + d);
    }
    const per = (s) => ((s * 1000) / n).toFixed(2);
    const detail = [...parts]
      .filter(([, s]) => s > 0.005)
      .sort((a, b) => b[1] - a[1])
      .map(([k, s]) => `${k} ${per(s)}`)
      .join(', ');
    console.log(
      `${target} ${mode}: accepted ${(n / load.wall).toFixed(0)} msgs/s, ${done}/${n} done at ${(n / wall).toFixed(0)} msgs/s, CPU ${per(m.user + m.sys)} s/1000 ` +
        `(kernel ${per(m.sys)}); live processes: ${detail}`,
    );
  } finally {
    await inst.stop();
  }
}

if (process.env.LOCAL_AB_ONE) {
  await once(process.env.LOCAL_AB_ONE);
} else {
  for (let r = 0; r < rounds; r++) {
    for (const target of targets) {
      const root = target === 'postfix' ? undefined : resolve(target);
      execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--n', String(n)], {
        stdio: 'inherit',
        env: { ...process.env, LOCAL_AB_ONE: target, ...(root ? { POSTERN_ROOT: root } : {}) },
      });
    }
  }
}
