// Install-time defaults (Postfix's DEF_* build macros: config_directory,
// queue_directory, mail_owner, sendmail_path, ...). The registry holds
// Debian's values; a packager overrides them without rebuilding by placing
// `install-defaults.json` ({"queue_directory": "/srv/postern/queue", ...}) in
// the package root, or by naming another file in POSTERN_INSTALL_DEFAULTS.
// Only parameters the registry marks `origin: 'build'` may be overridden.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: ReadonlyMap<string, string> | undefined;

/** The package root: dist/src/global/params/ is four levels below it. */
export function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
}

/** Parse an install-defaults JSON text; `isBuildParam` limits which names are accepted. */
export function parseInstallDefaults(
  text: string,
  file: string,
  isBuildParam: (name: string) => boolean,
): Map<string, string> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: bad JSON: ${(e as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new Error(`${file}: expected an object of parameter names to values`);
  }
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    if (!isBuildParam(k)) throw new Error(`${file}: ${k} is not an install-time parameter`);
    if (typeof v !== 'string') throw new Error(`${file}: value of ${k} must be a string`);
    out.set(k, v);
  }
  return out;
}

/** The overrides in effect for this process (read once). */
export function installDefaults(isBuildParam: (name: string) => boolean): ReadonlyMap<string, string> {
  if (cached) return cached;
  const named = process.env['POSTERN_INSTALL_DEFAULTS'];
  const file = named || join(packageRoot(), 'install-defaults.json');
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    // The packaged file is optional; one named explicitly must exist.
    if (named) throw new Error(`open ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    text = undefined;
  }
  cached = text === undefined ? new Map() : parseInstallDefaults(text, file, isBuildParam);
  return cached;
}
