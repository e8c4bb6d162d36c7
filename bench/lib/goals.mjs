// Issue 10's targets checked against one run: Postern's medians over
// Postfix's from the same run, and the share of the loopback ceiling (the
// `limit` scenario), so each report says how far each target is, not only
// the raw figures.
import { median } from './util.mjs';

/** rate: which rate is compared; minRate / aimRate: × Postfix; maxCpu: × Postfix's CPU per 1,000. */
const GOALS = [
  { id: 'ingest-1k', rate: 'acceptRate', minRate: 2, aimRate: 3, maxCpu: 0.5, ceiling: true },
  { id: 'ingest-100k', rate: 'acceptRate', minRate: 2, aimRate: 3, maxCpu: 0.5 },
  { id: 'relay', rate: 'doneRate', minRate: 2, aimRate: 3, maxCpu: 0.5, ceiling: true },
  { id: 'local', rate: 'doneRate', minRate: 1.5 },
  { id: 'submit', rate: 'acceptRate', minRate: 0.5 },
];

const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');

function med(results, scenario, target, key) {
  return median(results.filter((r) => r.scenario === scenario && r.target === target && r.ok).map((r) => r[key]));
}

export function goalsTable(results) {
  const ceiling = med(results, 'limit', 'sink', 'acceptRate');
  const out = [
    "## Against issue 10's targets (this run's medians)",
    '',
    '| scenario | target | Postern ÷ Postfix, msgs/s | Postern ÷ Postfix, CPU s per 1,000 | Postern as share of the loopback ceiling | met |',
    '|---|---|---|---|---|---|',
  ];
  for (const g of GOALS) {
    const rate = med(results, g.id, 'postern', g.rate) / med(results, g.id, 'postfix', g.rate);
    const cpu = med(results, g.id, 'postern', 'cpuPer1000') / med(results, g.id, 'postfix', 'cpuPer1000');
    if (!Number.isFinite(rate)) continue;
    let want = `≥ ${g.minRate}× the ${g.rate === 'doneRate' ? 'delivered' : 'accepted'} rate`;
    if (g.aimRate) want += ` (aim ${g.aimRate}×)`;
    if (g.maxCpu) want += `, CPU ≤ ${g.maxCpu}×`;
    if (g.ceiling) want += '; aim: half the ceiling';
    const share = g.ceiling ? med(results, g.id, 'postern', g.rate) / ceiling : NaN;
    const met = rate >= g.minRate && (!g.maxCpu || cpu <= g.maxCpu);
    out.push(
      `| ${g.id} | ${want} | ${f(rate)}× | ${f(cpu)}× | ${g.ceiling ? `${f(100 * share, 0)}%` : ''} | ${met ? 'yes' : 'no'} |`,
    );
  }
  const s = results.filter((r) => r.scenario === 'sessions' && r.target === 'postern' && r.ok);
  if (s.length) {
    const mib = median(s.map((r) => r.heldPss)) / 2 ** 20;
    const greet = Math.max(...s.map((r) => r.greetingMsMax));
    const held = Math.min(...s.map((r) => r.held));
    out.push(
      `| sessions | 10,000 held in < 300 MiB, a new session greeted in < 100 ms | | | | ${held >= 10000 && mib < 300 && greet < 100 ? 'yes' : 'no'}: ${f(held, 0)} held in ${f(mib, 0)} MiB, greeting ≤ ${f(greet, 1)} ms |`,
    );
  }
  return out;
}
