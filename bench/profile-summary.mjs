// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. the core worker
// started with NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR") by self time per
// function and per file, so the hot spots of a benchmark run can be read
// without a flame-graph viewer. Usage: node bench/profile-summary.mjs FILE.cpuprofile [top]
// --callers NAME lists the call chains (8 frames up) that lead to function NAME, by inclusive time.
import { readFileSync } from 'node:fs';

// --samples: weigh every sample alike (the median interval) instead of by the
// wall time since the previous one. On a loaded machine a descheduled worker's
// next sample otherwise carries the whole time it waited for a CPU.
const argv = process.argv.slice(2);
const bySamples = argv.includes('--samples');
const ci = argv.indexOf('--callers');
const callersOf = ci >= 0 ? argv[ci + 1] : undefined;
const [file, topArg] = argv.filter((a, i) => a !== '--samples' && i !== ci && (ci < 0 || i !== ci + 1));
if (!file) {
  console.error('usage: node bench/profile-summary.mjs [--samples] FILE.cpuprofile [top]');
  process.exit(2);
}
const top = Number(topArg ?? 40);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const sorted = [...prof.timeDeltas].sort((a, b) => a - b);
const nominal = sorted[Math.floor(sorted.length / 2)] ?? 0;
const dt = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i];
  dt.set(id, (dt.get(id) ?? 0) + (bySamples ? nominal : (prof.timeDeltas[i] ?? 0)));
}
const total = [...dt.values()].reduce((a, b) => a + b, 0);
const short = (url) => url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/').replace(/^node:/, 'node:');
const fn = new Map();
const files = new Map();
// Inclusive time per function: self time of the node and everything below it, counted once per stack.
const incl = new Map();
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
for (const [id, t] of dt) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const key = `${cf.functionName || '(anon)'} ${short(cf.url)}:${cf.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + t);
  const f = short(cf.url) || cf.functionName;
  files.set(f, (files.get(f) ?? 0) + t);
  const seen = new Set();
  for (let p = id; p !== undefined; p = parent.get(p)) {
    const pf = byId.get(p).callFrame;
    const k = `${pf.functionName || '(anon)'} ${short(pf.url)}:${pf.lineNumber + 1}`;
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + t);
  }
}
const show = (title, m, n) => {
  console.log(`\n${title}`);
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n))
    console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(0).padStart(7)} ms  ${k}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
if (callersOf) {
  const chains = new Map();
  for (const n of prof.nodes) {
    if (n.callFrame.functionName !== callersOf) continue;
    let t = 0;
    for (const stack = [n.id]; stack.length; ) {
      const id = stack.pop();
      t += dt.get(id) ?? 0;
      stack.push(...(byId.get(id).children ?? []));
    }
    const chain = [];
    for (let p = parent.get(n.id), i = 0; p !== undefined && i < 8; p = parent.get(p), i++) {
      const cf = byId.get(p).callFrame;
      chain.push(`${cf.functionName || '(anon)'}@${short(cf.url).split('/').pop()}:${cf.lineNumber + 1}`);
    }
    const k = chain.join(' < ');
    chains.set(k, (chains.get(k) ?? 0) + t);
  }
  show(`call chains into ${callersOf}`, chains, top);
  process.exit(0);
}
show('self time by function', fn, top);
show('self time by file', files, top);
show('inclusive time by function', incl, top);
