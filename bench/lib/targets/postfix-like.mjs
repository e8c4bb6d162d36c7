// A Postfix-compatible server under test, in its own throwaway instance
// (`postfix -c DIR start`): Debian's Postfix 3.7 and Postern itself are both
// this kind of target and get identical main.cf/master.cf files. The whole
// process tree runs inside the run's cgroup (see meter.mjs).
import { existsSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogCounter } from '../log-counter.mjs';
import { Meter } from '../meter.mjs';
import { writeInstance } from '../postfix-config.mjs';
import { run, startIn, until, waitForGreeting } from '../util.mjs';

/** The Postern checkout under test (built): this one, or POSTERN_ROOT to bench another worktree. */
const ROOT = process.env.POSTERN_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function makeTarget({ name, label, bin, sendmail, notes }) {
  return {
    name,
    label,
    notes,
    supports(scn) {
      if (scn.mode === 'submit' && !existsSync(sendmail.probe))
        return `no sendmail command (${sendmail.probe} missing)`;
      return true;
    },
    async start(scn, env) {
      const dir = join(env.out, `${label}-${scn.id}-${env.round}`);
      await rm(dir, { recursive: true, force: true });
      await writeInstance({
        dir,
        port: env.port,
        mode: scn.mode,
        sinkPort: env.sinkPort,
        lookup: scn.lookup,
        smtpdMaxproc: scn.smtpdMaxproc?.[label],
        owner: env.mailOwner,
      });
      // A/B runs of Postern's own settings (e.g. POSTERN_MAIN_CF='postern_smtpd_workers = 1'); Postfix's files stay identical.
      if (label === 'postern' && process.env.POSTERN_MAIN_CF)
        await appendFile(join(dir, 'main.cf'), `\n${process.env.POSTERN_MAIN_CF.replace(/\\n/g, '\n')}\n`);
      // The queue directory is created by `postfix start` itself (postfix-script / Postern's check).
      await chmod(dir, 0o755);
      if (scn.lookup) {
        const r = await run(bin.postmap, ['-c', dir, `hash:${dir}/senders`]);
        if (r.code !== 0) throw new Error(`${bin.postmap} failed: ${r.stderr.trim()}`);
      }
      const meter = await Meter.create(label);
      const starter = startIn(meter, bin.postfix, ['-c', dir, 'start']);
      let startErr = '';
      starter.stderr.on('data', (d) => (startErr += d));
      const code = await new Promise((r) => starter.on('exit', r));
      const up = code === 0 && (await waitForGreeting(env.port, 20000));
      const log = new LogCounter(join(dir, 'maillog'));
      const inst = {
        port: env.port,
        meter,
        dir,
        sendmailArgv: (from, to) => [...sendmail.argv, '-C', dir, '-f', from, to],
        sendmailEnv: { MAIL_CONFIG: dir },
        async drained(n, timeoutMs) {
          await until(async () => (await log.poll()).sent + log.failed >= n, timeoutMs, 100);
          return { delivered: log.sent, failed: log.failed, lastFailure: log.lastFailure };
        },
        resetCounts: () => log.reset(),
        async stop() {
          await run(bin.postfix, ['-c', dir, 'stop'], { timeoutMs: 40000 });
          await until(async () => (await meter.pids()).length === 0, 15000, 100);
          await meter.close();
        },
        async logTail() {
          const t = await readFile(join(dir, 'maillog'), 'utf8').catch(() => '');
          return t.split('\n').slice(-8).join('\n');
        },
      };
      if (!up) {
        // Name the reason: the log line about the smtpd service, else fatal/error lines, else the tail.
        const text = await readFile(join(dir, 'maillog'), 'utf8').catch(() => '');
        const lines = text.split('\n').filter(Boolean);
        const why =
          lines
            .filter((l) => l.includes(`:${env.port}/inet`))
            .slice(0, 2)
            .join(' | ') ||
          lines
            .filter((l) => /fatal|error|panic/.test(l))
            .slice(0, 2)
            .join(' | ') ||
          lines.slice(-3).join(' | ');
        // Postern names each master.cf command it cannot run yet: list them all, they are what blocks the scenario.
        const missing = [
          ...new Set(lines.map((l) => / command (\S+) is not yet supported/.exec(l)?.[1]).filter(Boolean)),
        ];
        await inst.stop();
        const e = new Error(
          `${name} did not greet on its port (\`postfix start\` exit status ${code}): ` +
            why.replace(/^.*?postfix\/[a-z-]+\[\d+\]: (warning: |fatal: )?/, '').replace(`:${env.port}/`, ':PORT/') +
            (missing.length ? `. Commands of master.cf it skipped as not yet supported: ${missing.join(', ')}` : ''),
        );
        e.cannotStart = true;
        throw e;
      }
      return inst;
    },
  };
}

export const postfix = makeTarget({
  name: 'Postfix 3.7',
  label: 'postfix',
  bin: { postfix: '/usr/sbin/postfix', postmap: '/usr/sbin/postmap' },
  sendmail: { probe: '/usr/sbin/sendmail', argv: ['/usr/sbin/sendmail'] },
});

export const postern = makeTarget({
  name: 'Postern',
  label: 'postern',
  bin: { postfix: join(ROOT, 'bin', 'postfix'), postmap: join(ROOT, 'bin', 'postmap') },
  sendmail: {
    probe: join(ROOT, 'dist', 'src', 'commands', 'sendmail', 'main.js'),
    argv: [join(ROOT, 'bin', 'sendmail')],
  },
});

/** The local user whose Maildir the `local` scenario fills (created by bench/run.sh). */
export const LOCAL_USER = 'pbench';
export async function resetMaildir(home, uid, gid) {
  await rm(join(home, 'Maildir'), { recursive: true, force: true });
  await mkdir(home, { recursive: true });
  await chown(home, uid, gid);
}
