// Bounded reads of configuration files (main.cf, master.cf): a runaway or
// wrong file must give a clear error, not exhaust memory. Errors keep the
// errno-style `code` so callers can word them the way Postfix does.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Far above any real main.cf or master.cf. */
export const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;

export function readConfigFile(file: string, limit = MAX_CONFIG_FILE_BYTES): string {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > limit) {
      const e: NodeJS.ErrnoException = new Error(`${file}: file too large (${size} bytes, limit ${limit})`);
      e.code = 'EFBIG';
      e.path = file;
      throw e;
    }
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** strerror-style text for the codes configuration readers meet. */
export function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'No such file or directory';
    case 'EACCES':
      return 'Permission denied';
    case 'EISDIR':
      return 'Is a directory';
    case 'EFBIG':
      return 'File too large';
    default:
      return code ?? (e instanceof Error ? e.message : String(e));
  }
}
