// Who the core worker runs as (docs/ARCHITECTURE.md): with master as root,
// $mail_owner (never root, as Postfix requires); without root, the invoking
// user, which Postern allows only when mail_owner names that user, so that an
// unprivileged start is a deliberate choice in main.cf (the embedded default).
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { ParamReader } from '../../global/params/types.js';
import { getpw } from '../../util/passwd.js';

export interface WorkerIdentity {
  /** Set only when master is root and must switch the worker to mail_owner. */
  readonly uid?: number;
  readonly gid?: number;
  readonly user: string;
}

export class PrivilegeError extends Error {
  override name = 'PrivilegeError';
}

export function workerIdentity(config: ParamReader): WorkerIdentity {
  const owner = config.get('mail_owner');
  const me = process.getuid?.() ?? 0;
  const pw = getpw(owner);
  if (me === 0) {
    if (!pw)
      throw new PrivilegeError(
        `file ${config.get('config_directory')}/main.cf: parameter mail_owner: unknown user name value: ${owner}`,
      );
    if (pw.uid === 0)
      throw new PrivilegeError(
        `file ${config.get('config_directory')}/main.cf: parameter mail_owner: user ${owner} has privileged user ID: 0`,
      );
    return { uid: pw.uid, gid: pw.gid, user: pw.name };
  }
  const self = userInfo().username;
  if (owner !== self && pw?.uid !== me) {
    throw new PrivilegeError(
      `to run the mail system without root, set mail_owner = ${self} in ${config.get('config_directory')}/main.cf (mail_owner is ${owner})`,
    );
  }
  return { user: self };
}

/**
 * The worker starts in queue_directory as mail_owner: every directory on the
 * way must be searchable by that uid/gid (supplementary groups are dropped at
 * the switch). Returns a reason when it is not, e.g. a queue under /root.
 */
export function unreachableBy(dir: string, identity: WorkerIdentity): string | undefined {
  if (identity.uid === undefined) return undefined;
  let path = resolve(dir);
  const chain: string[] = [];
  for (;;) {
    chain.unshift(path);
    const up = dirname(path);
    if (up === path) break;
    path = up;
  }
  for (const p of chain) {
    let st;
    try {
      st = statSync(p);
    } catch {
      return `${p}: No such file or directory`;
    }
    const bit = st.uid === identity.uid ? 0o100 : st.gid === identity.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) {
      return `${p} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}) is not searchable by mail_owner ${identity.user}`;
    }
  }
  return undefined;
}
