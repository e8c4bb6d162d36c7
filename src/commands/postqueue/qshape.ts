// `postqueue -S`: the queue shape, as Postfix's qshape(1) script shows it:
// recipient domains down the side, message counts by age across the top in
// buckets that double (5, 10, 20, ... minutes), busiest domains first.
// Postern has no Perl qshape reading queue files, so postqueue prints it.
import type { ShowqMessage } from './showq-format.js';

const BUCKETS = 9;
const FIRST_BUCKET_MIN = 5;
const MAX_ROWS = 200;

export function formatQshape(messages: readonly ShowqMessage[], now: number): string {
  const limits: number[] = [];
  for (let i = 0, t = FIRST_BUCKET_MIN; i < BUCKETS; i++, t *= 2) limits.push(t);
  const rows = new Map<string, number[]>();
  const total = new Array<number>(BUCKETS + 1).fill(0);
  for (const m of messages) {
    const ageMin = Math.max(0, (now / 1000 - m.arrivalTime) / 60);
    let b = limits.findIndex((l) => ageMin <= l);
    if (b < 0) b = BUCKETS;
    for (const r of m.recipients) {
      const dom = (r.address.slice(r.address.lastIndexOf('@') + 1) || r.address).toLowerCase();
      let row = rows.get(dom);
      if (!row) rows.set(dom, (row = new Array<number>(BUCKETS + 1).fill(0)));
      row[b] = (row[b] ?? 0) + 1;
      total[b] = (total[b] ?? 0) + 1;
    }
  }
  const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0);
  const sorted = [...rows].sort((a, b) => sum(b[1]) - sum(a[1]) || a[0].localeCompare(b[0])).slice(0, MAX_ROWS);
  const width = Math.max(5, ...sorted.map(([d]) => d.length));
  const cols = [...limits.map(String), `${limits[BUCKETS - 1] ?? 0}+`];
  const line = (name: string, t: string, cells: string[]): string =>
    `${name.padStart(width)} ${t.padStart(5)} ${cells.map((c) => c.padStart(5)).join(' ')}\n`;
  let out = line('', 'T', cols);
  out += line('TOTAL', String(sum(total)), total.map(String));
  for (const [dom, row] of sorted) out += line(dom, String(sum(row)), row.map(String));
  return out;
}
