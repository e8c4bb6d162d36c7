// The queue subdirectories the core worker writes (segments/, corrupt/),
// created by master before it forks the worker, as postfix-script's start-up
// check creates Postfix's queue directories: as root the queue directory
// itself stays root's, so the worker (mail_owner) could not create them.
// Existing directories owned by root are handed to mail_owner; links are
// never followed.
import { chownSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkerIdentity } from './privilege.js';

const WORKER_DIRS = ['segments', 'corrupt'] as const;

export function prepareQueueDirs(queueDir: string, identity: WorkerIdentity): void {
  for (const name of WORKER_DIRS) {
    const dir = join(queueDir, name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (identity.uid === undefined || identity.gid === undefined) continue;
    const st = lstatSync(dir);
    if (!st.isDirectory()) throw new Error(`${dir}: not a directory`);
    if (st.uid === 0) chownSync(dir, identity.uid, identity.gid);
  }
}
