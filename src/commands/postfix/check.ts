// `postfix check` (postfix-script check-fatal and check-warn): configuration
// files must parse (errors name file and line), the directories must exist,
// and ownership and modes must not let another user take over the mail system.
import { readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { checkMaillogFile } from '../../global/log/create-logger.js';
import type { Logger } from '../../global/log/logger.js';
import type { Config } from '../../global/params/config.js';
import { readMasterCf } from '../../daemons/master/master-cf.js';
import { inetEndpoints } from '../../daemons/master/inet-endpoints.js';
import { getpw } from '../../util/passwd.js';

/** How many queue entries the ownership walk looks at, so a huge queue cannot stall `check`. */
const MAX_WALK = 10_000;

export interface CheckResult {
  /** Lines for `postfix: fatal: ...`; any makes the check fail. */
  readonly fatal: string[];
  /** Lines for `postfix/postfix-script: warning: ...`. */
  readonly warnings: string[];
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Syntax of main.cf and master.cf, and values master needs; cheap, run by start too. */
export function checkSyntax(configDir: string, config: Config, warnings: string[] = []): string[] {
  const fatal: string[] = [];
  for (const p of config.problems) fatal.push(`${config.source}, line ${p.line}: ${p.message}`);
  try {
    const mcf = readMasterCf(configDir);
    for (const p of mcf.problems) fatal.push(`file ${p.file}: line ${p.line}: ${p.message}`);
    for (const w of mcf.warnings) warnings.push(`file ${w.file}: line ${w.line}: ${w.message}`);
    for (const e of mcf.entries) {
      if (e.type !== 'inet') continue;
      try {
        inetEndpoints(e.name, config.withOverrides(e.overrides));
      } catch (err) {
        fatal.push(`file ${mcf.file}: line ${e.line}: service ${e.name}/${e.type}: ${(err as Error).message}`);
      }
    }
  } catch (e) {
    fatal.push(
      `open ${join(configDir, 'master.cf')}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}`,
    );
  }
  try {
    checkMaillogFile(config);
  } catch (e) {
    fatal.push((e as Error).message);
  }
  return fatal;
}

export function checkInstallation(configDir: string, config: Config): CheckResult {
  const warnings: string[] = [];
  const fatal = checkSyntax(configDir, config, warnings);
  const root = (process.getuid?.() ?? 0) === 0;
  const owner = config.get('mail_owner');
  const pw = getpw(owner);
  if (!pw) fatal.push(`file ${configDir}/main.cf: parameter mail_owner: unknown user name value: ${owner}`);
  else if (pw.uid === 0)
    fatal.push(`file ${configDir}/main.cf: parameter mail_owner: user ${owner} has privileged user ID: 0`);

  const queueDir = config.get('queue_directory');
  for (const [param, dir] of [
    ['config_directory', configDir],
    ['queue_directory', queueDir],
  ] as const) {
    const st = statOrNull(dir);
    if (!st) {
      if (param === 'queue_directory')
        warnings.push(`queue_directory ${dir} does not exist (postfix start creates it)`);
      else fatal.push(`${param} ${dir}: No such file or directory`);
      continue;
    }
    if (!st.isDirectory()) fatal.push(`${param} ${dir}: not a directory`);
    if (root && st.uid !== 0) warnings.push(`not owned by root: ${dir}`);
    if ((st.mode & 0o022) !== 0) warnings.push(`group or other writable: ${dir}`);
  }
  for (const file of ['main.cf', 'master.cf']) {
    const st = statOrNull(join(configDir, file));
    if (st && (st.mode & 0o022) !== 0) warnings.push(`group or other writable: ${join(configDir, file)}`);
    if (st && root && st.uid !== 0) warnings.push(`not owned by root: ${join(configDir, file)}`);
  }
  if (pw && statOrNull(queueDir)) walkQueue(queueDir, config.get('process_id_directory'), pw.uid, owner, warnings);
  return { fatal, warnings };
}

/** Queue files belong to mail_owner (pid/ to root), as postfix-script checks with find(1). */
function walkQueue(queueDir: string, pidDir: string, uid: number, owner: string, warnings: string[]): void {
  let seen = 0;
  const visit = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (++seen > MAX_WALK) return;
      if (depth === 0 && name === pidDir) continue;
      const path = join(dir, name);
      const st = statOrNull(path);
      if (!st) continue;
      if (st.uid !== uid) warnings.push(`not owned by ${owner}: ${path}`);
      if (st.isDirectory() && depth < 3) visit(path, depth + 1);
    }
  };
  visit(queueDir, 0);
}

export function reportCheck(result: CheckResult, log: Logger): number {
  for (const w of result.warnings) log.warning(w);
  for (const f of result.fatal) process.stderr.write(`postfix: fatal: ${f}\n`);
  return result.fatal.length > 0 ? 1 : 0;
}
