// Directory syncs: creating, renaming or unlinking a queue file is durable
// only once its directory is synced (POSIX leaves that to fsync on the dir).
import { open } from 'node:fs/promises';

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
