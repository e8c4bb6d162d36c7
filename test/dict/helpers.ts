// Shared test helpers for the dict, postmap and postalias suites: temp dirs,
// running a command's main() with captured output, and finding the real
// Postfix tools for golden comparisons.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';

export async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-dict-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface Captured {
  code: number;
  out: string;
  err: string;
}

type Main = (
  argv: string[],
  prog: string,
  io: { stdout: (t: string) => void; stderr: (t: string) => void; stdin: () => Promise<string> },
) => Promise<number>;

export async function runMain(main: Main, prog: string, argv: string[], stdin = ''): Promise<Captured> {
  let out = '';
  let err = '';
  const code = await main(argv, prog, {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    stdin: () => Promise.resolve(stdin),
  });
  return { code, out, err };
}

export const REAL_POSTMAP = '/usr/sbin/postmap';
export const REAL_POSTALIAS = '/usr/sbin/postalias';
export const hasReal = (p: string): boolean => existsSync(p);

/** Run a real Postfix tool; resolves with exit code and output, never rejects on a non-zero exit. */
export function runReal(file: string, args: string[], cwd: string, stdin = ''): Promise<Captured> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { cwd, timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, out: stdout, err: stderr });
    });
    // A tool that exits without reading its input must not fail the test.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(stdin);
  });
}
