// $queue_directory/pid/master.pid: who the running master is, and the lock
// that keeps a second master from starting (Postfix locks the file; Node has
// no fcntl locks, so creation with O_EXCL is the lock and a stale file, whose
// process is gone or is not a master, is taken over).
import { closeSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export function pidFilePath(queueDirectory: string, processIdDirectory = 'pid'): string {
  return join(queueDirectory, processIdDirectory, 'master.pid');
}

/** The pid in a pid file, or undefined when the file is missing or unreadable. */
export function readPidFile(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^\s*(\d+)\s*$/.exec(text.split('\n')[0] ?? '');
  const pid = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Whether `pid` is alive and (where /proc tells) a Postern master, not a recycled pid. */
export function isMasterAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: alive but owned by someone else (a root master seen by a user).
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // master runs as daemons/master/main.js (postfix start) or inside the
    // postfix command (start-fg, bin/postfix or commands/postfix/embedded.js)
    return /daemons\/master\/main\.js|\/postfix\0|commands\/postfix\//.test(cmdline);
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** The running master's pid, if any. */
export function runningMaster(file: string): number | undefined {
  const pid = readPidFile(file);
  return pid !== undefined && isMasterAlive(pid) ? pid : undefined;
}

export class AlreadyRunningError extends Error {
  override name = 'AlreadyRunningError';
  constructor(readonly pid: number) {
    super(`the Postfix mail system is already running: PID: ${pid}`);
  }
}

/**
 * Create the pid file for this process, atomically. A live master's file is
 * an AlreadyRunningError; a stale one is replaced (at most twice, so that two
 * starts racing on a stale file cannot loop).
 */
export function acquirePidFile(file: string, pid = process.pid): void {
  const temp = `${file}.${pid}`;
  const fd = openSync(temp, 'w', 0o644);
  try {
    // Postfix pads the pid; readers (ours and scripts) trim it.
    writeSync(fd, `${String(pid).padStart(10)}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(temp, file); // fails with EEXIST: the O_EXCL of a complete file
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const other = readPidFile(file);
      if (other !== undefined && other !== pid && isMasterAlive(other)) throw new AlreadyRunningError(other);
      try {
        unlinkSync(file);
      } catch {
        // someone else removed it first: try again
      }
    }
    throw new Error(`cannot create ${file}: repeated races with another master`);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
  }
}

/** Remove the pid file if it is still ours. */
export function releasePidFile(file: string, pid = process.pid): void {
  if (readPidFile(file) === pid) {
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
  }
}
