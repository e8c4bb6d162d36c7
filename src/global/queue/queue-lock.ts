// One owner per queue store: a lock file holding the owner's pid, created
// atomically with link(2) so two starters cannot both win. A lock left by a
// dead process (kill -9, crash) is taken over; a live owner is an error.
// (Node has no flock(2); link + pid check is the portable equivalent.)
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export class QueueLockError extends Error {
  override name = 'QueueLockError';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class QueueLock {
  private constructor(private readonly path: string) {}

  static async acquire(dir: string): Promise<QueueLock> {
    const path = join(dir, 'lock');
    const temp = join(dir, `lock.${process.pid}.${Date.now()}`);
    await writeFile(temp, `${process.pid}\n`, { mode: 0o600 });
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await link(temp, path);
          return new QueueLock(path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
          throw new QueueLockError(`queue store ${dir} is locked by process ${owner}`);
        }
        if (owner === process.pid) throw new QueueLockError(`queue store ${dir} is already open in this process`);
        // Stale: its owner is gone.
        await unlink(path).catch(() => undefined);
      }
      throw new QueueLockError(`cannot lock queue store ${dir}`);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async release(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
  }
}
