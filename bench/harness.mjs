// The benchmark harness behind bench/run.sh: runs the chosen scenarios
// against every target (smtp-sink for the ceiling; Postfix 3.7, Haraka and
// Postern for the rest), ROUNDS times with the targets interleaved (A B C A B
// C ...), keeps every round's figures in bench/out/results.json and writes
// bench/RESULTS.md. Usage (as root, after bench/run.sh has installed what it
// needs): node bench/harness.mjs [--rounds N] [--targets postfix,haraka,postern] [scenario ...]
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReport } from './lib/report.mjs';
import { runComponent, runLoad, runSessions } from './lib/runner.mjs';
import { ORDER, SCENARIOS, SESSIONS } from './lib/scenarios.mjs';
import { haraka } from './lib/targets/haraka.mjs';
import { LOCAL_USER, postern, postfix, resetMaildir } from './lib/targets/postfix-like.mjs';
import { sink } from './lib/targets/sink.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ALL = { postfix, haraka, postern };

const args = process.argv.slice(2);
let rounds = 3;
let targetNames = ['postfix', 'haraka', 'postern'];
const chosen = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rounds') rounds = Number(args[++i]);
  else if (args[i] === '--targets') targetNames = args[++i].split(',');
  else chosen.push(args[i]);
}
const scenarioNames = chosen.length ? chosen : ORDER;
for (const s of scenarioNames) if (!SCENARIOS[s]) throw new Error(`unknown scenario ${s}; known: ${ORDER.join(' ')}`);
for (const t of targetNames) if (!ALL[t]) throw new Error(`unknown target ${t}; known: ${Object.keys(ALL).join(' ')}`);

const out = join(BENCH, 'out', 'runs');
await mkdir(out, { recursive: true });
const pw = (name) => {
  const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':');
  return { name, uid: Number(line[2]), gid: Number(line[3]), home: line[5] };
};
const owner = pw('postfix');
const localUser = pw(LOCAL_USER);
const env = {
  out,
  mailOwner: owner,
  localUser,
  sessions: SESSIONS,
  resetMaildir: () => resetMaildir(localUser.home, localUser.uid, localUser.gid),
};

const results = [];
const cannotStart = {};
const started = new Date();
for (const name of scenarioNames) {
  for (const scn of SCENARIOS[name]) {
    const targets =
      scn.mode === 'limit'
        ? [sink]
        : scn.mode === 'component'
          ? targetNames.filter((t) => t === 'postern').map((t) => ALL[t])
          : targetNames.map((t) => ALL[t]);
    for (let round = 1; round <= rounds; round++) {
      for (const target of targets) {
        const support =
          scn.mode === 'component'
            ? true
            : cannotStart[target.label]
              ? `not started again after an earlier failure to start: ${cannotStart[target.label]}`
              : target.supports(scn);
        if (support !== true) {
          if (round === 1) results.push({ scenario: scn.id, target: target.label, round, skipped: support });
          continue;
        }
        const t0 = Date.now();
        let r;
        try {
          r =
            scn.mode === 'sessions'
              ? await runSessions(target, scn, { ...env, round })
              : scn.mode === 'component'
                ? await runComponent(scn, { ...env, round })
                : await runLoad(target, scn, { ...env, round });
        } catch (e) {
          r = {
            ok: false,
            error: String(e.message ?? e)
              .split('\n')
              .slice(0, 4)
              .join(' | '),
          };
          // A server that cannot even start will not start in the next rounds or scenarios either.
          if (e.cannotStart) cannotStart[target.label] = r.error;
        }
        results.push({ scenario: scn.id, target: target.label, round, ...r });
        const brief = r.ok
          ? scn.mode === 'component'
            ? r.line
            : scn.mode === 'sessions'
              ? `${r.held} held, ${(r.pssPerSession / 1024).toFixed(1)} KiB PSS/session, greeting ${r.greetingMs?.toFixed(1)} ms`
              : `${r.acceptRate.toFixed(0)} msgs/s accepted, ${r.doneRate.toFixed(0)} msgs/s done, ${r.cpuPer1000.toFixed(2)} CPU s/1000, ${(r.peakPss / 2 ** 20).toFixed(0)} MB PSS`
          : `FAILED: ${r.error}`;
        console.log(
          `[${new Date().toISOString().slice(11, 19)}] ${scn.id} round ${round} ${target.label}: ${brief} (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
        );
        await writeFile(join(BENCH, 'out', 'results.json'), JSON.stringify({ started, results }, null, 1));
      }
    }
  }
}
const finished = new Date();
await writeFile(join(BENCH, 'out', 'results.json'), JSON.stringify({ started, finished, rounds, results }, null, 1));
await writeReport({ file: join(BENCH, 'RESULTS.md'), started, finished, rounds, results, scenarioNames });
console.log(`wrote ${join(BENCH, 'RESULTS.md')}`);
