// Writes bench/RESULTS.md from one harness run: the machine and versions,
// one table per scenario (medians with min–max over the interleaved rounds,
// ratios against Postfix measured in the same run) and, for every target,
// what could not run and why.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goalsTable } from './goals.mjs';
import { SCENARIOS, WARMUP } from './scenarios.mjs';
import { median, minMax } from './util.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sh = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd: ROOT }).trim();
  } catch {
    return '?';
  }
};
const POSTERN = process.env.POSTERN_ROOT ?? ROOT;
const NAMES = { sink: 'smtp-sink (no MTA)', postfix: 'Postfix', haraka: 'Haraka', postern: 'Postern' };

function fmt(x, digits = 0) {
  return Number.isFinite(x) ? x.toFixed(digits) : '—';
}
function spread(xs, digits = 0, scale = 1) {
  const v = xs.map((x) => x / scale);
  const [lo, hi] = minMax(v);
  if (!Number.isFinite(lo)) return '—';
  return v.length > 1 ? `${fmt(median(v), digits)} (${fmt(lo, digits)}–${fmt(hi, digits)})` : fmt(v[0], digits);
}

function versions() {
  let haraka = '?';
  try {
    haraka = JSON.parse(
      readFileSync(join(ROOT, 'bench', 'out', 'haraka', 'node_modules', 'Haraka', 'package.json'), 'utf8'),
    ).version;
  } catch {
    // not installed
  }
  return [
    `- Postfix ${sh('/usr/sbin/postconf', ['-d', '-h', 'mail_version'])} (Debian package), smtp-source/smtp-sink from the same package`,
    `- Haraka ${haraka} (npm, in bench/out/haraka)${process.env.HARAKA_NODES ? `, nodes=${process.env.HARAKA_NODES}` : ', smtp.ini nodes unset (Haraka then runs one worker)'}`,
    `- Postern ${sh('git', ['-C', POSTERN, 'rev-parse', '--short', 'HEAD'])} (${sh('git', ['-C', POSTERN, 'log', '-1', '--format=%s'])})${process.env.POSTERN_ROOT ? ` from ${POSTERN}` : ''}`,
    `- Node ${process.version}, kernel ${sh('uname', ['-r'])}`,
    `- BENCH_SCALE=${process.env.BENCH_SCALE ?? 1} (message counts per round are in each scenario's section); BENCH_WARMUP=${WARMUP}: that many messages go to each freshly started server, every target alike, before the measured load of the SMTP scenarios (ingest, relay, local, lookup), and their own figures are in each table's last column`,
  ];
}

function machine() {
  const fs = sh('df', ['-T', join(ROOT, 'bench', 'out')])
    .split('\n')
    .pop()
    ?.split(/\s+/)[1];
  return `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, bench/out on ${fs}`;
}

function loadTable(rows, targets) {
  const out = [
    '| target | rounds ok | accepted msgs/s | all done msgs/s | server CPU s per 1,000 msgs | kernel share | peak PSS MB (RSS) | CPU vs Postfix | syncs per msg | client CPU s per 1,000 | warm-up after start: done msgs/s · CPU s per 1,000 |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const pfCpu = median(rows.filter((r) => r.target === 'postfix' && r.ok).map((r) => r.cpuPer1000));
  for (const t of targets) {
    const all = rows.filter((r) => r.target === t && !r.skipped);
    const ok = all.filter((r) => r.ok);
    if (all.length === 0) continue;
    const cpu = median(ok.map((r) => r.cpuPer1000));
    const rss = median(ok.map((r) => r.peakRss)) / 2 ** 20;
    out.push(
      `| ${NAMES[t]} | ${ok.length}/${all.length} | ${spread(ok.map((r) => r.acceptRate))} | ${spread(ok.map((r) => r.doneRate))} | ` +
        `${spread(
          ok.map((r) => r.cpuPer1000),
          2,
        )} | ${fmt(100 * median(ok.map((r) => r.kernelShare)))}% | ` +
        `${spread(
          ok.map((r) => r.peakPss),
          0,
          2 ** 20,
        )} (${fmt(rss)}) | ${t === 'postfix' || !ok.length || !Number.isFinite(pfCpu) ? '' : `${fmt(cpu / pfCpu, 2)}×`} | ${fmt(
          median(ok.map((r) => r.syncsPerMsg)),
          2,
        )} | ${spread(
          ok.map((r) => (r.clientCpu * 1000) / r.n),
          2,
        )} | ${warmCell(ok)} |`,
    );
  }
  return out;
}

/** The warm-up load's own figures (the first messages after the server started), or — when there was none. */
function warmCell(ok) {
  const w = ok.map((r) => r.warm).filter(Boolean);
  if (!w.length) return '—';
  return `${spread(w.map((x) => x.doneRate))} · ${fmt(median(w.map((x) => x.cpuPer1000)), 2)} (${w[0].n} msgs)`;
}

function componentTable(rows) {
  const ok = rows.filter((r) => r.ok);
  const all = rows.filter((r) => !r.skipped);
  return [
    '| rounds ok | its own rate (per s) | CPU s per 1,000 (whole process, /usr/bin/time) | its own output, last round |',
    '|---|---|---|---|',
    `| ${ok.length}/${all.length} | ${spread(ok.map((r) => r.rate))} | ${spread(
      ok.map((r) => r.cpuPer1000),
      2,
    )} | ${ok.at(-1)?.line ?? '—'} |`,
  ];
}

function sessionsTable(rows, targets) {
  const out = [
    '| target | sessions asked / held | seconds to establish all | PSS per session KiB | RSS per session KiB | new session: connect → 220, ms median (max) | server processes |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const t of targets) {
    const all = rows.filter((r) => r.target === t && !r.skipped);
    if (all.length === 0) continue;
    const ok = all.filter((r) => Number.isFinite(r.held));
    out.push(
      `| ${NAMES[t]} | ${ok[0]?.sessions ?? '—'} / ${spread(ok.map((r) => r.held))} | ${spread(
        ok.map((r) => r.establishSeconds),
        1,
      )} | ` +
        `${spread(
          ok.map((r) => r.pssPerSession),
          1,
          1024,
        )} | ${spread(
          ok.map((r) => r.rssPerSession),
          1,
          1024,
        )} | ` +
        `${spread(
          ok.map((r) => r.greetingMs),
          1,
        )} (${fmt(Math.max(...ok.map((r) => r.greetingMsMax)), 1)}) | ${spread(ok.map((r) => r.heldProcs))} |`,
    );
  }
  return out;
}

/** One line per scenario: each target's median rate and CPU per 1,000 messages (or per-session memory). */
function summary(results, scenarioNames) {
  const ts = ['postfix', 'haraka', 'postern'];
  const out = [
    '## Summary (medians; details and spreads below)',
    '',
    `| scenario | ${ts.map((t) => `${NAMES[t]}: msgs/s · CPU s/1,000`).join(' | ')} |`,
    `|---|${ts.map(() => '---').join('|')}|`,
  ];
  for (const name of scenarioNames) {
    for (const scn of SCENARIOS[name]) {
      const cell = (t) => {
        const ok = results.filter(
          (r) => r.scenario === scn.id && (scn.mode === 'limit' ? r.target === 'sink' : r.target === t) && r.ok,
        );
        if (!ok.length) return results.some((r) => r.scenario === scn.id && r.target === t) ? 'not run' : '—';
        if (scn.mode === 'sessions') {
          return `${fmt(median(ok.map((r) => r.held)))} held · ${fmt(median(ok.map((r) => r.pssPerSession)) / 1024, 1)} KiB/session · greeting ${fmt(median(ok.map((r) => r.greetingMs)), 1)} ms`;
        }
        return `${fmt(median(ok.map((r) => r.acceptRate ?? r.rate)))} · ${fmt(median(ok.map((r) => r.cpuPer1000)), 2)}`;
      };
      out.push(
        `| ${scn.id}${scn.mode === 'limit' ? ' (smtp-sink)' : ''} | ${ts.map((t) => (scn.mode === 'limit' ? (t === 'postfix' ? cell(t) : '') : cell(t))).join(' | ')} |`,
      );
    }
  }
  return out;
}

/** Which Postern scenarios ran, and the reason for each that did not. */
function posternStatus(results, scenarioNames) {
  const out = ['## Postern in this run', ''];
  const pr = results.filter((r) => r.target === 'postern' && !String(r.scenario).startsWith('component'));
  const start = pr.find((r) => !r.ok && !r.skipped && /did not greet/.test(r.error ?? ''));
  if (pr.length && start && pr.every((r) => !r.ok)) {
    out.push(
      `No end-to-end scenario could run: ${start.error}`,
      '',
      'Every Postern row below is therefore empty. The harness starts Postern exactly as it starts Postfix ' +
        '(same generated main.cf and master.cf, `bin/postfix -c DIR start`), so its figures appear in the next run ' +
        'once the services it reports as missing are wired into `postfix start`.',
    );
    return out;
  }
  for (const name of scenarioNames) {
    for (const scn of SCENARIOS[name]) {
      if (scn.mode === 'limit' || scn.mode === 'component') continue;
      const rows = results.filter((r) => r.scenario === scn.id && r.target === 'postern');
      if (!rows.length) {
        out.push(`- ${scn.id}: not part of this run`);
        continue;
      }
      const ok = rows.filter((r) => r.ok).length;
      const bad = rows.find((r) => r.skipped || !r.ok);
      out.push(
        `- ${scn.id}: ${ok ? `${ok}/${rows.length} rounds ran` : 'could not run'}${bad ? ` — ${bad.skipped ?? bad.error}` : ''}`,
      );
    }
  }
  return out;
}

export async function writeReport({ file, started, finished, rounds, results, scenarioNames }) {
  const { writeFile } = await import('node:fs/promises');
  const targets = ['sink', 'postfix', 'haraka', 'postern'];
  const lines = [
    '# Benchmark results: Postern against Postfix and Haraka',
    '',
    `Generated by \`bench/run.sh ${scenarioNames.join(' ')}\` on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC ` +
      `(${((finished - started) / 60000).toFixed(1)} min, ${rounds} rounds, targets interleaved within each round).`,
    '',
    `Machine: ${machine()}. Load average at the end: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (other work on the machine makes wall-clock rates noisy); ` +
      'CPU seconds per 1,000 messages is the steadier figure, and only ratios between targets measured in the same run mean much.',
    '',
    ...versions(),
    '',
    '## What the figures mean',
    '',
    `- **warm-up**: in ingest, relay, local and lookup each freshly started server first gets ${WARMUP} messages of the same scenario (every target alike), and the measured load starts once they have left the system: a server runs for days, so its steady state is the figure that matters, not Node's JIT compiling the hot paths (about 1 CPU s per start) or Postfix starting its smtpd and cleanup processes. The warm-up's own figures are in each table's last column: that is what the first messages after a start get. \`BENCH_WARMUP=0\` measures from a cold start.`,
    "- **syncs per msg**: `fsync` + `fdatasync` calls by the server's processes during the measured load, per message, counted by `perf stat` on the syscall tracepoints of the server's cgroup (every process it forks included; — when perf is missing). Postern's group commit shares one `fdatasync` among the messages that arrived together; local delivery adds one `fsync` per Maildir file.",
    '- **accepted msgs/s**: messages ÷ wall time of the load generator (`smtp-source`, or the `sendmail` loop), as `/usr/bin/time` reports it: every message has had its `250` (for Postfix and Postern: durably queued).',
    '- **all done msgs/s**: messages ÷ time until the last one has left the system (discarded, received by the relay sink, or in `Maildir/new`), polled every 100 ms.',
    '- **server CPU s per 1,000 msgs**: user + system CPU of every process of the server (its cgroup, including processes that already exited) from the start of the load until all done, per 1,000 messages. The load generator and the relay sink are not counted. **kernel share** is the system part.',
    "- **peak PSS**: the highest sum of proportional set size over the server's live processes, sampled every 300 ms from `/proc/<pid>/smaps_rollup` (RSS in brackets double-counts shared pages across Postfix's processes).",
    '- **client CPU**: CPU of the load generator itself (`smtp-source`; for `submit`, the shell loop with every `sendmail` and `postdrop` it runs), from `/usr/bin/time`.',
    "- **CPU vs Postfix**: the target's median CPU per 1,000 messages ÷ Postfix's median in the same run (below 1 is cheaper).",
    "- Haraka answers `250` in `ingest`, `lookup` and `sessions` without writing the message anywhere (`queue/discard`); Postfix and Postern answer `250` only once the message is fsync'd in their queue. In `relay` Haraka's outbound queue writes one file per message and fsyncs it (haraka-utils' `FsyncWriteStream`, which npm installs with Haraka 3.3.4 today; the syncs column shows it). In the other scenarios Haraka therefore does less work per message for the same figure.",
    '- `smtp-source` opens a new connection per message, so connection set-up and the whole SMTP dialogue are in every figure.',
    "- Each server runs in its own throwaway instance on a free 127.0.0.1 port: Postfix and Postern from identical generated `main.cf`/`master.cf` (`postfix -c DIR start`, queue fsync'd as shipped, `maillog_file` logging), Haraka from `haraka -i DIR` with `queue/discard`, or `relay` + the outbound queue routed by `smtp_forward`.",
    '',
  ];
  lines.push(
    ...summary(results, scenarioNames),
    '',
    ...goalsTable(results),
    '',
    ...posternStatus(results, scenarioNames),
    '',
  );
  // The hand-kept log of performance work (change -> measured effect) travels with every regenerated report.
  try {
    lines.push(readFileSync(join(ROOT, 'bench', 'TRIED.md'), 'utf8').trimEnd(), '');
  } catch {
    // no such file: nothing to add
  }
  for (const name of scenarioNames) {
    for (const scn of SCENARIOS[name]) {
      const rows = results.filter((r) => r.scenario === scn.id);
      lines.push(`## ${scn.title}`, '');
      if (scn.note) lines.push(scn.note, '');
      if (scn.mode !== 'sessions' && scn.mode !== 'component')
        lines.push(
          `${rows.find((r) => r.n)?.n ?? scn.n} messages of ${scn.size} bytes per round${scn.sessions ? `, ${scn.sessions} parallel sessions, a new connection per message` : ''}.`,
          '',
        );
      lines.push(
        ...(scn.mode === 'sessions'
          ? sessionsTable(rows, targets)
          : scn.mode === 'component'
            ? componentTable(rows)
            : loadTable(rows, targets)),
        '',
      );
      const notes = [];
      for (const t of targets) {
        const skipped = rows.find((r) => r.target === t && r.skipped);
        const failed = rows.filter((r) => r.target === t && !r.skipped && !r.ok);
        if (t === 'postern' && (skipped || failed.length) && !rows.some((r) => r.target === t && r.ok)) {
          notes.push(`- Postern: not run (see "Postern in this run").`);
          continue;
        }
        if (skipped) notes.push(`- ${NAMES[t]}: not run — ${skipped.skipped}.`);
        if (failed.length) notes.push(`- ${NAMES[t]}: ${failed.length} round(s) failed — ${failed[0].error}`);
      }
      if (notes.length) lines.push(...notes, '');
    }
  }
  await writeFile(file, lines.join('\n'));
}
