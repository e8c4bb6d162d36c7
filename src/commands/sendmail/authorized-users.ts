// authorized_submit_users, authorized_mailq_users and authorized_flush_users
// (postconf(5)): who may submit mail, list the queue or flush it. The list
// is matched against the login name of the real uid; `static:anyone` (the
// default) allows everyone, `!name` refuses, `type:table` entries are looked
// up with the user name as key. The table code is only loaded when a table is
// listed, so the common case costs sendmail nothing at start-up.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { ParamReader } from '../../global/params/types.js';

export interface Invoker {
  readonly name: string;
  readonly uid: number;
}

/** The real user running this command, as Postfix's commands name it in messages. */
export function invoker(): Invoker {
  const uid = process.getuid?.() ?? 0;
  try {
    return { name: userInfo().username, uid };
  } catch {
    // A uid without a passwd entry: Postfix matches it as "unknown".
    return { name: 'unknown', uid };
  }
}

/**
 * Whether `user` matches the match list in `param`. For the mailq and flush
 * lists Postfix always lets root and mail_owner in (`privilegedAlways`);
 * authorized_submit_users has no such exception.
 */
export async function isAuthorized(
  config: ParamReader,
  param: string,
  user: Invoker,
  privilegedAlways = false,
): Promise<boolean> {
  if (privilegedAlways && (user.uid === 0 || user.name === config.get('mail_owner'))) return true;
  const patterns = config.list(param);
  for (const raw of patterns.slice(0, 1000)) {
    const negate = raw.startsWith('!');
    const p = negate ? raw.slice(1) : raw;
    let hit: boolean;
    if (p === 'static:anyone' || p === 'static:all') hit = true;
    else if (/^[a-z0-9_]+:/i.test(p) && !p.startsWith('/')) {
      const { openDictUncached } = await import('../../global/dict/open.js');
      const dict = await openDictUncached(p, { config });
      try {
        hit = (await dict.lookup(user.name)) !== undefined;
      } finally {
        await dict.close();
      }
    } else hit = p.toLowerCase() === user.name.toLowerCase();
    if (hit) return !negate;
  }
  return false;
}

/**
 * The sender's full name when -F is not given: $NAME, else the GECOS field of
 * the passwd entry (up to the first comma), as Postfix's sendmail does. Read
 * from /etc/passwd directly: spawning getent would cost every submission.
 */
export function defaultFullName(uid: number): string | undefined {
  const env = process.env.NAME;
  if (env) return env;
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[2] === String(uid)) return (f[4] ?? '').split(',')[0] || undefined;
    }
  } catch {
    // no passwd file: no full name
  }
  return undefined;
}
