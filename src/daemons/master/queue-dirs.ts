// The queue subdirectories the core worker writes (segments/, corrupt/, and
// for pickup and the queue control channel maildrop/, public/, private/),
// created by master before it forks the worker, as postfix-script's start-up
// check creates Postfix's queue directories: as root the queue directory
// itself stays root's, so the worker (mail_owner) could not create them.
// Existing directories owned by root are handed to mail_owner; links are
// never followed.
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkerIdentity } from './privilege.js';

/** Modes as the services that use them create them (pickup: maildrop; flush and pickup: public, private). */
const WORKER_DIRS: readonly (readonly [string, number])[] = [
  ['segments', 0o700],
  ['corrupt', 0o700],
  ['maildrop', 0o730],
  ['public', 0o755],
  ['private', 0o700],
];

export function prepareQueueDirs(queueDir: string, identity: WorkerIdentity): void {
  for (const [name, mode] of WORKER_DIRS) {
    const dir = join(queueDir, name);
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true, mode });
      chmodSync(dir, mode); // not narrowed by the umask
    }
    if (identity.uid === undefined || identity.gid === undefined) continue;
    const st = lstatSync(dir);
    if (!st.isDirectory()) throw new Error(`${dir}: not a directory`);
    if (st.uid === 0) chownSync(dir, identity.uid, identity.gid);
  }
}
