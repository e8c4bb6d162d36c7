// Test helpers: run Postern's postconf (bin/postconf over dist/) and Debian's
// real /usr/sbin/postconf on the same config directory, with outputs
// normalised only where they depend on the host or on Postern's hardening.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const REAL_POSTCONF = '/usr/sbin/postconf';
export const haveRealPostconf = existsSync(REAL_POSTCONF);

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LANG: 'C', ...env }, timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export function postern(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(process.execPath, [join(projectRoot, 'bin', 'postconf'), ...args], env);
}

export function realPostconf(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(REAL_POSTCONF, args, env);
}

/** Names whose value differs by design (hardened.ts, Postern's own postern_*) or by host/process (pid). */
const VARYING = /^(process_id|debugger_command|smtpd_forbid_bare_newline|smtpd_forbid_unauth_pipelining|postern_\w+) =/;

/** Make a postconf stdout comparable: drop pid-dependent and hardened lines, Postern → Postfix. */
export function normaliseStdout(text: string): string {
  return text
    .split('\n')
    .filter((l) => !VARYING.test(l))
    .map((l) => l.replaceAll('Postern', 'Postfix'))
    .join('\n');
}

/** Warnings as a sorted list without the program path (Postfix prints argv[0]). */
export function normaliseStderr(text: string): string[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replaceAll(REAL_POSTCONF, 'postconf'))
    .sort();
}
