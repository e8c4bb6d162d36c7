// `postfix set-permissions`: give the queue to mail_owner (the core worker
// writes there) and keep the queue directory itself and pid/ root's, as
// postfix-files prescribes. Unprivileged there is nothing to change hands, so
// it only creates what is missing with the right modes.
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../global/log/logger.js';
import type { Config } from '../../global/params/config.js';
import { getpw } from '../../util/passwd.js';

/** Bound on entries changed, so that a runaway queue cannot make this run forever. */
const MAX_ENTRIES = 1_000_000;

export function setPermissions(config: Config, log: Logger): number {
  const queueDir = config.get('queue_directory');
  const pidDir = config.get('process_id_directory');
  const owner = getpw(config.get('mail_owner'));
  if (!owner) {
    log.warning(`unknown mail_owner: ${config.get('mail_owner')}`);
    return 1;
  }
  const root = (process.getuid?.() ?? 0) === 0;
  mkdirSync(join(queueDir, pidDir), { recursive: true, mode: 0o755 });
  chmodSync(queueDir, 0o755);
  if (!root) return 0;
  chownSync(queueDir, 0, 0);
  chownSync(join(queueDir, pidDir), 0, 0);
  let count = 0;
  const visit = (dir: string, top: boolean): void => {
    for (const name of readdirSync(dir)) {
      if (top && name === pidDir) continue;
      if (++count > MAX_ENTRIES) return;
      const path = join(dir, name);
      const st = lstatSync(path);
      if (st.isSymbolicLink()) continue; // never follow links out of the queue as root
      chownSync(path, owner.uid, owner.gid);
      if (st.isDirectory()) visit(path, false);
    }
  };
  visit(queueDir, true);
  return 0;
}
