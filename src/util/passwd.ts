// getpwnam(3) for Node, which has none: user name or uid to uid/gid/home, via
// getent(1) (so NSS sources such as LDAP count) with /etc/passwd as fallback.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

function parseLine(line: string): PasswdEntry | undefined {
  const f = line.split(':');
  if (f.length < 7) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  return { name: f[0] ?? '', uid, gid, home: f[5] ?? '' };
}

/** Look up a user by name, or by number when `key` is all digits. */
export function getpw(key: string): PasswdEntry | undefined {
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/.test(key)) return undefined;
  try {
    const out = execFileSync('getent', ['passwd', key], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    });
    const e = parseLine(out.split('\n')[0] ?? '');
    if (e) return e;
  } catch {
    // not found, or no getent: try the file
  }
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const e = parseLine(line);
      if (e && (e.name === key || String(e.uid) === key)) return e;
    }
  } catch {
    // no passwd file
  }
  return undefined;
}
