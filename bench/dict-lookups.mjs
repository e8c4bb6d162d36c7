// Lookups per second for common table types: hash and lmdb (LMDB files built
// with createTable), cidr, regexp, and pgsql when the CI test database is up.
// Run after `npm run build`: node bench/dict-lookups.mjs [seconds-per-type]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTable } from '../dist/src/global/dict/mkmap.js';
import { openDictUncached } from '../dist/src/global/dict/open.js';

const seconds = Number(process.argv[2] ?? 1);
const dir = mkdtempSync(join(tmpdir(), 'postern-bench-'));
const N = 100_000;

async function measure(label, dict, keyAt) {
  let n = 0;
  let found = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    for (let i = 0; i < 1000; i++, n++) if ((await dict.lookup(keyAt(n))) !== undefined) found++;
  }
  const rate = Math.round(n / seconds);
  console.log(`${label.padEnd(28)} ${String(rate).padStart(9)} lookups/s  (${Math.round((100 * found) / n)}% found)`);
  await dict.close();
}

try {
  const entries = Array.from({ length: N }, (_, i) => [`user${i}@example.com`, `dest${i}@example.net`]);
  for (const type of ['hash', 'lmdb', 'cdb']) {
    const f = join(dir, `map-${type}`);
    const t0 = Date.now();
    await createTable(type, f, entries, { warn: () => undefined });
    console.log(`${`${type} build ${N} keys`.padEnd(28)} ${String(Date.now() - t0).padStart(9)} ms`);
    await measure(`${type} (${N} keys)`, await openDictUncached(`${type}:${f}`), (n) => `user${(n * 7919) % (2 * N)}@example.com`);
  }
  const cidr = join(dir, 'cidr');
  writeFileSync(cidr, Array.from({ length: 200 }, (_, i) => `10.${i}.0.0/16 R${i}`).join('\n') + '\n');
  await measure('cidr (200 rules)', await openDictUncached(`cidr:${cidr}`), (n) => `10.${n % 256}.1.2`);
  const re = join(dir, 'regexp');
  writeFileSync(re, Array.from({ length: 50 }, (_, i) => `/^user${i}\\d*@example\\.(com|net)$/ R${i}`).join('\n') + '\n');
  await measure('regexp (50 rules)', await openDictUncached(`regexp:${re}`), (n) => `user${n % 100}@example.com`);
  const pgcf = join(dir, 'pg.cf');
  writeFileSync(pgcf, "hosts = 127.0.0.1\nuser = postern_dict\npassword = postern_dict\ndbname = postern_dict\nquery = SELECT '%s' WHERE '%u' LIKE 'user1%%'\n");
  try {
    const pg = await openDictUncached(`pgsql:${pgcf}`);
    await pg.lookup('warmup@example.com');
    await measure('pgsql (1 conn, sequential)', pg, (n) => `user${n % 100}@example.com`);
  } catch (e) {
    console.log(`pgsql skipped: ${e.message}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
