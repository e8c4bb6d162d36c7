// postmap -F (Postfix 3.4+), for tables such as tls_server_sni_maps whose
// values are whole files: when building, each value is a list of file names
// whose contents are joined and stored base64-encoded; when querying or
// listing, each value is base64-decoded before it is printed.
import { readFile } from 'node:fs/promises';

/** Longest combined content one -F value may hold. */
export const MAX_F_VALUE_BYTES = 16 * 1024 * 1024;

/** The stored value for a list of file names; undefined (after a warning) when a file cannot be read. */
export async function encodeFileList(
  value: string,
  where: string,
  warn: (text: string) => void,
): Promise<string | undefined> {
  const parts: Buffer[] = [];
  let total = 0;
  for (const name of value.split(/[\s,]+/).filter((n) => n !== '')) {
    let data: Buffer;
    try {
      data = await readFile(name);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const text = code === 'ENOENT' ? 'No such file or directory' : (e as Error).message;
      warn(`${where}: open ${name}: ${text}: skipping this entry`);
      return undefined;
    }
    total += data.length;
    if (total > MAX_F_VALUE_BYTES) {
      warn(`${where}: files exceed ${MAX_F_VALUE_BYTES} bytes: skipping this entry`);
      return undefined;
    }
    if (parts.length) parts.push(Buffer.from('\n'));
    parts.push(data);
  }
  return Buffer.concat(parts).toString('base64');
}

/** Strict base64 (RFC 4648 alphabet, padded): undefined when `v` is not. */
export function decodeValue(v: string): string | undefined {
  if (v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) return undefined;
  return Buffer.from(v, 'base64').toString('utf8');
}
