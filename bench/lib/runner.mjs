// One measured run of one scenario against one target: start the server in
// its own cgroup, drive the load with public tools (smtp-source, a sendmail
// shell loop, or bench/idle-sessions.mjs for held sessions), wait until every
// message has left the system, and read CPU and memory from the cgroup.
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startSink } from './targets/sink.mjs';
import { WARMUP } from './scenarios.mjs';
import { freePort, median, sleep, timed, until } from './util.mjs';

const BENCH = join(dirname(fileURLToPath(import.meta.url)), '..');
const SENDER = 'bench@bench.test';

function recipient(scn, env) {
  return scn.mode === 'local' ? `${env.localUser.name}@localhost` : 'user@example.com';
}

async function loadSmtp(scn, env, port, count = scn.n) {
  const argv = ['/usr/sbin/smtp-source', '-s', String(scn.sessions), '-l', String(scn.size), '-m', String(count)];
  argv.push('-f', SENDER, '-t', recipient(scn, env), `127.0.0.1:${port}`);
  return timed(argv, { tmpFile: join(env.out, 'time.txt'), timeoutMs: 900000 });
}

async function loadSendmail(scn, env, inst) {
  const msg = join(env.out, 'submit.eml');
  const body = 'x'.repeat(74) + '\n';
  const text = `From: ${SENDER}\nTo: user@example.com\nSubject: bench\n\n${body.repeat(Math.ceil((scn.size - 60) / 75))}`;
  await writeFile(msg, text);
  const cmd = inst
    .sendmailArgv(SENDER, 'user@example.com')
    .map((a) => `'${a}'`)
    .join(' ');
  const script = `i=0; while [ $i -lt ${scn.n} ]; do ${cmd} < '${msg}' || exit 1; i=$((i+1)); done`;
  return timed(['/bin/sh', '-c', script], {
    tmpFile: join(env.out, 'time.txt'),
    timeoutMs: 900000,
    env: { ...process.env, ...inst.sendmailEnv },
  });
}

function warmupCount(scn) {
  return ['discard', 'relay', 'local'].includes(scn.mode) ? WARMUP : 0;
}

/** Throws, naming the load generator's last words, unless it exited 0. */
function loadSucceeded(load, what) {
  if (load.code !== 0)
    throw new Error(`${what} failed (status ${load.code}): ${load.stderr.trim().split('\n').slice(-3).join(' | ')}`);
}

/** How long `n` messages may take to leave the system. */
const drainWaitMs = (n) => Math.max(60000, n * 40);

/** Messages in Maildir/new of the benchmark's local user. */
async function maildirCount(env) {
  return (await readdir(join(env.localUser.home, 'Maildir', 'new')).catch(() => [])).length;
}

/**
 * Sends the warm-up load and waits until it has left the system (the relay
 * sink counts it too: it exits after warm-up + measured messages).
 */
async function warmUp(scn, env, inst, port, count) {
  await inst.meter.begin();
  const t0 = performance.now();
  const load = await loadSmtp(scn, env, port, count);
  loadSucceeded(load, 'warm-up load');
  const waitMs = drainWaitMs(count);
  if (scn.mode === 'local') {
    if (!(await until(async () => (await maildirCount(env)) >= count, waitMs, 100)))
      throw new Error(`warm-up: only ${await maildirCount(env)}/${count} in Maildir/new`);
  } else {
    const o = await inst.drained(count, waitMs);
    if (o.delivered < count || o.failed > 0)
      throw new Error(`warm-up: ${o.delivered}/${count} delivered, ${o.failed} failed ${o.lastFailure}`.trim());
  }
  const doneWall = (performance.now() - t0) / 1000;
  const m = await inst.meter.end();
  inst.resetCounts?.();
  return {
    n: count,
    acceptRate: count / load.wall,
    doneRate: count / doneWall,
    cpuPer1000: ((m.user + m.sys) * 1000) / count,
  };
}

/** Runs a load scenario; returns the figures of this round. */
export async function runLoad(target, scn, env) {
  const port = await freePort();
  const sinkPort = await freePort();
  const warmN = warmupCount(scn);
  let sink;
  if (scn.mode === 'relay') sink = await startSink(sinkPort, { quitAfter: warmN + scn.n });
  let inst;
  try {
    inst = await target.start(scn, { ...env, port, sinkPort });
    if (scn.mode === 'local') await env.resetMaildir();
    const warm = warmN > 0 ? await warmUp(scn, env, inst, port, warmN) : undefined;
    await inst.meter.begin();
    const t0 = performance.now();
    const load = scn.mode === 'submit' ? await loadSendmail(scn, env, inst) : await loadSmtp(scn, env, port);
    loadSucceeded(load, 'load generator');
    const waitMs = drainWaitMs(scn.n);
    let outcome;
    if (scn.mode === 'relay') {
      let timer;
      const expired = new Promise((r) => (timer = setTimeout(() => r('timeout'), waitMs)));
      // the timer must not outlive the race: it would keep the harness alive for minutes after its report
      const code = await Promise.race([sink.exited, expired]).finally(() => clearTimeout(timer));
      outcome = {
        delivered: code === 'timeout' ? 0 : scn.n,
        failed: 0,
        lastFailure: code === 'timeout' ? 'sink did not receive every message in time' : '',
      };
    } else if (scn.mode === 'local') {
      let count = 0;
      await until(async () => (count = (await maildirCount(env)) - warmN) >= scn.n, waitMs, 100);
      outcome = { delivered: count, failed: 0, lastFailure: count < scn.n ? `only ${count} in Maildir/new` : '' };
    } else if (scn.mode === 'limit') {
      outcome = { delivered: scn.n, failed: 0, lastFailure: '' };
    } else {
      outcome = await inst.drained(scn.n, waitMs);
    }
    const doneWall = (performance.now() - t0) / 1000;
    const m = await inst.meter.end();
    const ok = outcome.delivered >= scn.n && outcome.failed === 0;
    return {
      ok,
      error: ok
        ? undefined
        : `${outcome.delivered}/${scn.n} delivered, ${outcome.failed} failed ${outcome.lastFailure}`.trim(),
      n: scn.n,
      acceptWall: load.wall,
      acceptRate: scn.n / load.wall,
      doneWall,
      doneRate: scn.n / doneWall,
      cpuUser: m.user,
      cpuSys: m.sys,
      cpuPer1000: ((m.user + m.sys) * 1000) / scn.n,
      syncsPerMsg: m.syncs / scn.n,
      kernelShare: m.sys / (m.user + m.sys),
      peakPss: m.peakPss,
      peakRss: m.peakRss,
      clientCpu: load.clientCpu,
      warm,
    };
  } finally {
    if (inst) await inst.stop();
    sink?.stop();
  }
}

/** Holds idle sessions against the target and measures memory per session and a new session's greeting time. */
export async function runSessions(target, scn, env) {
  const port = await freePort();
  const count = env.sessions[target.label];
  const inst = await target.start(scn, { ...env, port, sinkPort: port });
  let client;
  try {
    await sleep(1000);
    const idle = await inst.meter.memory();
    await inst.meter.begin(1000);
    client = spawn(process.execPath, [join(BENCH, 'idle-sessions.mjs'), String(port), String(count), '200', '180'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: client.stdout })[Symbol.asyncIterator]();
    const next = async () => JSON.parse((await lines.next()).value ?? '{}');
    const ready = await next();
    await sleep(1000);
    const held = await inst.meter.memory();
    const probes = [];
    for (let i = 0; i < 5; i++) {
      client.stdin.write('probe\n');
      const p = await next();
      probes.push(p.probe ?? NaN);
    }
    const m = await inst.meter.end();
    const ok = ready.held === count;
    return {
      ok,
      error: ok
        ? undefined
        : `${ready.held}/${count} sessions established (${ready.errors} errors, last: ${ready.lastError})`,
      sessions: count,
      held: ready.held,
      establishSeconds: ready.seconds,
      greetingMs: median(probes),
      greetingMsMax: Math.max(...probes.filter(Number.isFinite)),
      idlePss: idle.pss,
      heldPss: held.pss,
      heldRss: held.rss,
      heldProcs: held.procs,
      pssPerSession: ready.held > 0 ? (held.pss - idle.pss) / ready.held : NaN,
      rssPerSession: ready.held > 0 ? (held.rss - idle.rss) / ready.held : NaN,
      cpuSeconds: m.user + m.sys,
      peakPss: m.peakPss,
    };
  } finally {
    client?.stdin.end();
    if (client) await Promise.race([new Promise((r) => client.on('exit', r)), sleep(10000)]);
    client?.kill('SIGKILL');
    await inst.stop();
  }
}

/**
 * Runs one of Postern's in-process micro-benchmarks under /usr/bin/time: its
 * own printed rate, and the CPU of the whole process (Node start-up included).
 */
export async function runComponent(scn, env) {
  const root = process.env.POSTERN_ROOT ?? join(BENCH, '..');
  const args = [join(root, 'bench', scn.script), ...scn.args, ...(scn.withDir ? [env.out] : [])];
  const r = await timed([process.execPath, ...args], {
    tmpFile: join(env.out, 'time.txt'),
    cwd: root,
    timeoutMs: 300000,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const rate = Number(/(\d+) (?:durable commits|msgs)\/s/.exec(line)?.[1] ?? NaN);
  const ok = r.code === 0 && Number.isFinite(rate);
  return {
    ok,
    error: ok ? undefined : `status ${r.code}: ${(r.stderr || line).trim().split('\n').slice(-2).join(' | ')}`,
    n: scn.n,
    rate,
    line,
    wall: r.wall,
    cpuPer1000: (r.clientCpu * 1000) / scn.n,
  };
}
