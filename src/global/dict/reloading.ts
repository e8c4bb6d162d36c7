// Rebuild-on-change for file-backed tables. A Postfix daemon notices that an
// indexed file changed ("table ... has changed -- restarting") and restarts;
// Postern processes live long and serve many sessions, so instead the table is
// reopened in place when its file's identity (inode, size, mtime) changes,
// checked at most once per interval so lookups stay cheap.
import { stat } from 'node:fs/promises';
import type { Dict } from './dict-api.js';

export const RELOAD_CHECK_MS = 1000;

interface FileId {
  ino: number;
  size: number;
  mtimeMs: number;
}

async function fileId(path: string): Promise<FileId | undefined> {
  try {
    const s = await stat(path);
    return { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return undefined;
  }
}

const same = (a: FileId | undefined, b: FileId | undefined): boolean =>
  a !== undefined && b !== undefined && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

export class ReloadingDict implements Dict {
  private lastCheck = Date.now();
  private pending: Promise<void> | undefined;

  private constructor(
    readonly spec: string,
    private readonly path: string,
    private readonly load: () => Promise<Dict>,
    private current: Dict,
    private id: FileId | undefined,
    private readonly checkMs: number,
  ) {}

  static async open(spec: string, path: string, load: () => Promise<Dict>, checkMs = RELOAD_CHECK_MS): Promise<Dict> {
    const id = await fileId(path);
    const d = await load();
    return new ReloadingDict(spec, path, load, d, id, checkMs);
  }

  private async refresh(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCheck < this.checkMs) return;
    this.lastCheck = now;
    const id = await fileId(this.path);
    // A file that vanished mid-rebuild keeps the old contents in service.
    if (id === undefined || same(id, this.id)) return;
    const next = await this.load();
    const old = this.current;
    this.current = next;
    this.id = id;
    await old.close();
  }

  async lookup(key: string): Promise<string | undefined> {
    if (Date.now() - this.lastCheck >= this.checkMs) {
      this.pending ??= this.refresh().finally(() => {
        this.pending = undefined;
      });
      await this.pending;
    }
    return this.current.lookup(key);
  }

  sequence(): AsyncIterable<[string, string]> {
    const cur = this.current;
    if (!cur.sequence) throw new Error(`${this.spec}: table does not support sequence`);
    return cur.sequence();
  }

  close(): Promise<void> {
    return this.current.close();
  }
}
