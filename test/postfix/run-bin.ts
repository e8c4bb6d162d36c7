// Runs one of Postern's real executables from bin/ as a child process, with a
// time limit, and collects its exit status and output.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: dist/test/postfix/ is three levels below it. */
export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Where bin/ and dist/ are run from; tests may point it at a copy (see master/harness.ts). */
let codeRoot = projectRoot;
export function setCodeRoot(dir: string): void {
  codeRoot = dir;
}
export function getCodeRoot(): string {
  return codeRoot;
}

export interface BinResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runBin(
  name: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; uid?: number; gid?: number } = {},
): Promise<BinResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(codeRoot, 'bin', name), ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      uid: opts.uid,
      gid: opts.gid,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} ${args.join(' ')}: no exit within ${opts.timeoutMs ?? 20000} ms\n${stderr}`));
    }, opts.timeoutMs ?? 20000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
