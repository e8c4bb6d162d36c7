// getpwnam(3) for Node, which has none: user name or uid to uid/gid/home, via
// getent(1) (so NSS sources such as LDAP count) with /etc/passwd as fallback.
// getpw() blocks (commands, start-up checks); daemons on a delivery path use
// getpwAsync(), which waits for getent without stopping the event loop.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

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

const VALID_KEY = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/;
const GETENT_TIMEOUT_MS = 5000;

function fromFile(text: string, key: string): PasswdEntry | undefined {
  for (const line of text.split('\n')) {
    const e = parseLine(line);
    if (e && (e.name === key || String(e.uid) === key)) return e;
  }
  return undefined;
}

/** getpw() without blocking: getent(1) as an asynchronous child, then /etc/passwd. */
export async function getpwAsync(key: string): Promise<PasswdEntry | undefined> {
  if (!VALID_KEY.test(key)) return undefined;
  const out = await new Promise<string>((resolve) => {
    execFile('getent', ['passwd', key], { encoding: 'utf8', timeout: GETENT_TIMEOUT_MS }, (err, stdout) =>
      resolve(err ? '' : stdout),
    );
  });
  const e = parseLine(out.split('\n')[0] ?? '');
  if (e) return e;
  try {
    return fromFile(await readFile('/etc/passwd', 'utf8'), key);
  } catch {
    return undefined; // no passwd file
  }
}

/** Look up a user by name, or by number when `key` is all digits. */
export function getpw(key: string): PasswdEntry | undefined {
  if (!VALID_KEY.test(key)) return undefined;
  try {
    const out = execFileSync('getent', ['passwd', key], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: GETENT_TIMEOUT_MS,
    });
    const e = parseLine(out.split('\n')[0] ?? '');
    if (e) return e;
  } catch {
    // not found, or no getent: try the file
  }
  try {
    return fromFile(readFileSync('/etc/passwd', 'utf8'), key);
  } catch {
    // no passwd file
  }
  return undefined;
}
