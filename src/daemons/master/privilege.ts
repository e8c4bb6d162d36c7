// Who the core worker runs as (docs/ARCHITECTURE.md): with master as root,
// $mail_owner (never root, as Postfix requires); without root, the invoking
// user, which Postern allows only when mail_owner names that user, so that an
// unprivileged start is a deliberate choice in main.cf (the embedded default).
import { userInfo } from 'node:os';
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
