// The privileged delivery process (docs/ARCHITECTURE.md, "Processes and
// privileges") end to end, as root: `postfix start` with local, virtual and
// pipe entries; swaks sends to real users made by .ci/setup.d/50-local-users.sh
// and each message lands in that user's Maildir or mbox, owned by the user;
// the pipe command runs as its user=; and a kill -9 of the delivery process
// in the middle of a slow pipe delivery defers the message, which master's
// restarted delivery process then delivers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureUser, skipReason } from '../local/harness.js';
import { e2eSkip, startMailSystem, stockMasterCf, swaks, type E2eSystem } from './harness.js';

const skip = skipReason() ?? e2eSkip('swaks');

/** Children of `ppid` whose command line contains `what` (from /proc; bounded by the process table). */
function childPids(ppid: number, what: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== ppid) continue;
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(what)) out.push(Number(name));
    } catch {
      // the process went away meanwhile
    }
  }
  return out;
}

function masterPid(sys: E2eSystem): number {
  return Number(readFileSync(join(sys.queueDir, 'pid', 'master.pid'), 'utf8').trim());
}

/** Files in a Maildir's new/ whose content matches `pattern`. */
function maildirHits(dir: string, pattern: RegExp): string[] {
  const nd = join(dir, 'new');
  if (!existsSync(nd)) return [];
  return readdirSync(nd)
    .map((f) => join(nd, f))
    .filter((f) => pattern.test(readFileSync(f, 'utf8')));
}

async function waitFor<T>(what: string, probe: () => T | undefined, log: () => Promise<string>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${ms} ms; log:\n${await log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test(
  'delivery process as root: Maildir, mbox, virtual and pipe as their users; kill -9 defers, restart delivers',
  { skip },
  async (t) => {
    const u1 = ensureUser('pstlocal1');
    const u2 = ensureUser('pstlocal2');
    const u3 = ensureUser('pstlocal3');
    const vu = ensureUser('pstvirt1');
    const pu = ensureUser('pstpipe1');
    const tag = `dlv${process.pid}${Date.now().toString(36)}`;
    // a Maildir name of our own, so parallel suites that use these users never collide with this one
    const maildirName = `Maildir-${tag}`;
    const cleanups: (() => void)[] = [];
    for (const u of [u1, u2]) cleanups.push(() => rmSync(join(u.home, maildirName), { recursive: true, force: true }));

    const running: { sys?: E2eSystem } = {};
    t.after(async () => {
      await running.sys?.cleanup();
      for (const c of cleanups) c();
    });
    const work = await mkdtemp(join(tmpdir(), 'postern-dlv-'));
    await chmod(work, 0o755);
    cleanups.push(() => rmSync(work, { recursive: true, force: true }));
    const spool = join(work, 'mail');
    const vbase = join(work, 'vmail');
    const out = join(work, 'out');
    for (const d of [spool, out]) {
      await mkdir(d);
      await chmod(d, 0o1777);
    }
    await mkdir(vbase);
    await chmod(vbase, 0o1777);
    await writeFile(
      join(work, 'transport'),
      'pstlocal3@localhost spool:\npipe@localhost fastpipe:\nslow@localhost slowpipe:\n',
    );
    await writeFile(join(work, 'vmailbox'), 'box@virt.test box\n');
    // fast pipe: who ran it, and the message
    await writeFile(join(work, 'pipe.sh'), `#!/bin/sh\nid -u > "$1/pipe.uid.$$"\ncat > "$1/pipe.msg.$$"\n`);
    // slow pipe: the first attempt announces itself (with its pid, so the test can end it) and waits
    // to be killed with its delivery process; a later attempt delivers.
    await writeFile(
      join(work, 'slow.sh'),
      `#!/bin/sh
if [ -e "$1/slow.started" ]; then cat > "$1/slow.msg"; exit 0; fi
echo $$ > "$1/slow.started"
sleep 20
exit 75
`,
    );
    const s = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination = localhost
alias_maps =
alias_database =
local_recipient_maps =
home_mailbox = ${maildirName}/
mail_spool_directory = ${spool}
transport_maps = texthash:${work}/transport
virtual_mailbox_domains = virt.test
virtual_mailbox_base = ${vbase}
virtual_mailbox_maps = texthash:${work}/vmailbox
virtual_uid_maps = static:${vu.uid}
virtual_gid_maps = static:${vu.gid}
virtual_minimum_uid = 100
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
`,
      masterCf: (port) =>
        stockMasterCf(
          port,
          `spool     unix  -       n       n       -       -       local
  -o home_mailbox=
fastpipe  unix  -       n       n       -       -       pipe
  flags=R user=pstpipe1 argv=/bin/sh ${work}/pipe.sh ${out}
slowpipe  unix  -       n       n       -       -       pipe
  flags=R user=pstpipe1 argv=/bin/sh ${work}/slow.sh ${out}
`,
        ),
    });
    running.sys = s;
    const master = masterPid(s);
    const [deliveryPid] = childPids(master, 'delivery-worker');
    assert.ok(deliveryPid, 'master runs a delivery process');
    assert.equal(statSync(`/proc/${deliveryPid}`).uid, 0, 'the delivery process runs as root');
    const [corePid] = childPids(master, 'core-worker');
    assert.ok(corePid);
    assert.notEqual(statSync(`/proc/${corePid}`).uid, 0, 'the core worker does not run as root');

    for (const to of [
      'pstlocal1@localhost',
      'pstlocal2@localhost',
      'pstlocal3@localhost',
      'box@virt.test',
      'pipe@localhost',
    ]) {
      const id = await swaks(s.port, 'sender@example.test', to, ['--header', `X-Tag: ${tag} ${to}`]).catch(
        async (e: unknown) => {
          throw new Error(`${(e as Error).message}\nlog:\n${await s.log()}`);
        },
      );
      await s.waitForLog(new RegExp(`${id}: to=<${to.replace('.', '\\.')}>.*status=sent`));
    }
    // Maildir for the two local users, each file owned by its user
    for (const u of [u1, u2]) {
      const hits = maildirHits(join(u.home, maildirName), new RegExp(`X-Tag: ${tag} ${u.name}@localhost`));
      assert.equal(hits.length, 1, `one message in ${u.name}'s Maildir`);
      const st = statSync(hits[0] as string);
      assert.deepEqual([st.uid, st.gid], [u.uid, u.gid], `${u.name}'s message is owned by ${u.name}`);
    }
    // mbox in the spool directory through the second local entry
    const mbox = join(spool, u3.name);
    assert.match(
      readFileSync(mbox, 'utf8'),
      new RegExp(`^From sender@example\\.test [^]*X-Tag: ${tag} pstlocal3@localhost`),
    );
    assert.equal(statSync(mbox).uid, u3.uid);
    // virtual(8) mbox with the static uid
    const vbox = join(vbase, 'box');
    assert.match(readFileSync(vbox, 'utf8'), new RegExp(`X-Tag: ${tag} box@virt\\.test`));
    assert.equal(statSync(vbox).uid, vu.uid);
    // pipe(8) ran as user=pstpipe1
    const uids = readdirSync(out).filter((f) => f.startsWith('pipe.uid.'));
    assert.equal(uids.length, 1);
    assert.equal(readFileSync(join(out, uids[0] as string), 'utf8').trim(), String(pu.uid));
    assert.equal(statSync(join(out, uids[0] as string)).uid, pu.uid);

    // kill -9 of the delivery process during a slow pipe delivery
    const slowId = await swaks(s.port, 'sender@example.test', 'slow@localhost', ['--header', `X-Tag: ${tag} slow`]);
    const started = join(out, 'slow.started');
    const scriptPid = await waitFor(
      'the slow pipe command',
      () => (existsSync(started) ? readFileSync(started, 'utf8').trim() : undefined),
      () => s.log(),
    );
    cleanups.unshift(() => {
      try {
        process.kill(Number(scriptPid), 'SIGKILL'); // the first attempt's command, orphaned by the kill
      } catch {
        // already gone
      }
    });
    process.kill(deliveryPid, 'SIGKILL');
    const log = await s.waitForLog(new RegExp(`${slowId}: to=<slow@localhost>.*status=deferred`));
    // The core sees the channel close before master reaps the child: wait for master's line too.
    await s.waitForLog(
      new RegExp(`postfix/master\\[${master}\\]: warning: process delivery pid ${deliveryPid} killed by signal 9`),
    );
    assert.match(
      log,
      new RegExp(`${slowId}: to=<slow@localhost>.*dsn=4\\.3\\.0, status=deferred \\(.*delivery process crashed\\)`),
    );
    await s.waitForLog(new RegExp(`${slowId}: to=<slow@localhost>.*status=sent`), 40_000);
    assert.match(readFileSync(join(out, 'slow.msg'), 'utf8'), new RegExp(`X-Tag: ${tag} slow`));
    const [newPid] = childPids(master, 'delivery-worker');
    assert.ok(newPid && newPid !== deliveryPid, 'master started a new delivery process');
    await s.waitForLog(new RegExp(`${slowId}: removed`));

    // postfix reload reaches the (restarted) delivery process: its local agent uses the new home_mailbox
    const reloaded = `${maildirName}-reloaded`;
    cleanups.push(() => rmSync(join(u1.home, reloaded), { recursive: true, force: true }));
    const mainCf = join(s.configDir, 'main.cf');
    await writeFile(
      mainCf,
      readFileSync(mainCf, 'utf8').replace(`home_mailbox = ${maildirName}/`, `home_mailbox = ${reloaded}/`),
    );
    assert.equal((await s.postfix('reload')).code, 0);
    await s.waitForLog(/postfix\/master\[\d+\]: reload -- version/);
    const afterId = await swaks(s.port, 'sender@example.test', 'pstlocal1@localhost', [
      '--header',
      `X-Tag: ${tag} reload`,
    ]);
    await s.waitForLog(new RegExp(`${afterId}: to=<pstlocal1@localhost>.*status=sent \\(delivered to maildir\\)`));
    assert.equal(maildirHits(join(u1.home, reloaded), new RegExp(`X-Tag: ${tag} reload`)).length, 1);
    assert.equal(childPids(master, 'delivery-worker')[0], newPid, 'reload keeps the delivery process');
  },
);
