// The submission half of sendmail(1) (Postfix's sendmail + postdrop): store
// one message in $queue_directory/maildrop, where pickup(8) finds it. This
// works whether or not the mail system is running.
//
// Privileges. Postfix makes postdrop setgid `$setgid_group` so that any user
// can write into the group-writable maildrop directory. Node programs cannot
// be setgid (the kernel ignores the bit on interpreted scripts), so Postern
// does it this way: whoever may write to maildrop/ (root, mail_owner, or a
// member of a group the administrator granted write access) writes the file
// directly; root hands the file to mail_owner so pickup (running as
// mail_owner) can read it. Everyone else goes through the running mail
// system: the pickup service listens on $queue_directory/public/pickup and
// performs the write as mail_owner (see daemons/pickup/drop-socket.ts).
import { join } from 'node:path';
import type { MaildropEnvelope } from '../../global/queue/maildrop.js';
import { writeMaildrop, type MaildropOwner } from '../../global/queue/maildrop.js';
import { CommandFailure, EX_TEMPFAIL } from './sysexits.js';

export interface DropTarget {
  readonly queueDirectory: string;
  /** `mail_owner`; consulted only when running as root. */
  readonly mailOwner: string;
}

function isPermissionError(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  return code === 'EACCES' || code === 'EPERM' || /permission denied|EACCES|EPERM/i.test(String(err));
}

/** Store the message; returns the maildrop queue ID. */
export async function dropMessage(target: DropTarget, env: MaildropEnvelope, content: Buffer): Promise<string> {
  try {
    const owner = process.getuid?.() === 0 ? await mailOwnerOf(target.mailOwner) : undefined;
    return await writeMaildrop(target.queueDirectory, env, content, owner);
  } catch (err) {
    if (!isPermissionError(err)) {
      throw new CommandFailure(`unable to create maildrop file: ${(err as Error).message}`, EX_TEMPFAIL);
    }
  }
  const { submitThroughSocket } = await import('./drop-client.js');
  return submitThroughSocket(join(target.queueDirectory, 'public', 'pickup'), env, content);
}

/** mail_owner's uid and gid, unless it is root or unknown (then the file stays root's, as before). */
export async function mailOwnerOf(name: string): Promise<MaildropOwner | undefined> {
  const { getpw } = await import('../../util/passwd.js');
  const owner = getpw(name);
  return owner && owner.uid !== 0 ? { uid: owner.uid, gid: owner.gid } : undefined;
}
