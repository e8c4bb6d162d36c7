// Builds the mailbox-writing helper (native/postern-deliver.c) with the
// machine's C compiler into dist/native/, as part of `npm run build`. Without
// a compiler the build still succeeds: local/virtual delivery then defers
// with a clear reason and their tests skip.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'postern-deliver.c');
const outDir = join(here, '..', 'dist', 'native');
const out = join(outDir, 'postern-deliver');

function fresh() {
  try {
    return statSync(out).mtimeMs >= statSync(src).mtimeMs;
  } catch {
    return false;
  }
}

if (!fresh()) {
  mkdirSync(outDir, { recursive: true });
  const cc = process.env.CC || 'cc';
  try {
    execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-D_FORTIFY_SOURCE=2', '-o', out, src], { stdio: 'inherit' });
    chmodSync(out, 0o755);
  } catch (e) {
    process.stderr.write(`warning: cannot build ${out} (${e.message}); local and virtual delivery will defer\n`);
  }
}
