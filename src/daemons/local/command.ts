// Running a delivery command (local(8) `|command` and mailbox_command,
// pipe(8) argv=) as the recipient or the configured user: the message on
// stdin, a time limit, a bounded capture of the output for the bounce text,
// and the exit status mapped through sysexits as Postfix's sys_exits.c does
// (EX_TEMPFAIL and EX_OSERR defer, other failures bounce). Touches: processes.
import { spawn } from 'node:child_process';
import type { SpawnIdentity } from './identity.js';

export interface CommandRun {
  readonly who: SpawnIdentity;
  /** argv[0] is the program; for local(8) it is the shell with `-c command`. */
  readonly argv: readonly string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly input: Buffer;
  readonly timeLimitSeconds: number;
}

export type CommandResult =
  | { readonly kind: 'ok' }
  | { readonly kind: 'exit'; readonly code: number; readonly output: string }
  | { readonly kind: 'signal'; readonly signal: string; readonly output: string }
  | { readonly kind: 'timeout'; readonly output: string }
  | { readonly kind: 'error'; readonly reason: string };

const MAX_OUTPUT = 2048;

export function runCommand(r: CommandRun): Promise<CommandResult> {
  if (!r.who.ok) return Promise.resolve({ kind: 'error', reason: r.who.reason });
  const [prog, ...args] = r.argv;
  if (!prog) return Promise.resolve({ kind: 'error', reason: 'empty command' });
  return new Promise((resolve) => {
    const child = spawn(prog, args, {
      uid: r.who.ok ? r.who.uid : undefined,
      gid: r.who.ok ? r.who.gid : undefined,
      cwd: r.cwd,
      env: r.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so the time limit kills what the command started too.
      detached: true,
    });
    let output = '';
    let timedOut = false;
    const take = (b: Buffer): void => {
      if (output.length < MAX_OUTPUT) output += b.toString('utf8');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.stdin.on('error', () => undefined);
    const timer = setTimeout(
      () => {
        timedOut = true;
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      },
      Math.max(1, r.timeLimitSeconds) * 1000,
    );
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ kind: 'error', reason: `cannot execute ${prog}: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const out = printable(output.slice(0, MAX_OUTPUT));
      if (timedOut) return resolve({ kind: 'timeout', output: out });
      if (signal) return resolve({ kind: 'signal', signal, output: out });
      if (code === 0) return resolve({ kind: 'ok' });
      resolve({ kind: 'exit', code: code ?? 1, output: out });
    });
    child.stdin.end(r.input);
  });
}

/** Command output made one printable line, as it goes into a log line and a bounce. */
function printable(s: string): string {
  return s
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[^\x20-\x7e\u00a0-\uffff]/g, '?')
    .trim();
}

/** sysexits.h codes with Postfix's enhanced status and text. */
const SYSEXITS: ReadonlyMap<number, { dsn: string; text: string }> = new Map([
  [64, { dsn: '5.3.0', text: 'command line usage error' }],
  [65, { dsn: '5.6.0', text: 'data format error' }],
  [66, { dsn: '5.3.0', text: 'cannot open input' }],
  [67, { dsn: '5.1.1', text: 'user unknown' }],
  [68, { dsn: '5.1.2', text: 'host name unknown' }],
  [69, { dsn: '5.3.0', text: 'service unavailable' }],
  [70, { dsn: '5.3.0', text: 'internal software error' }],
  [71, { dsn: '4.3.0', text: 'system resource problem' }],
  [72, { dsn: '5.3.0', text: 'critical OS file missing' }],
  [73, { dsn: '5.2.0', text: "can't create user output file" }],
  [74, { dsn: '5.3.0', text: 'input/output error' }],
  [75, { dsn: '4.3.0', text: 'temporary failure' }],
  [76, { dsn: '5.5.0', text: 'remote error in protocol' }],
  [77, { dsn: '5.7.0', text: 'permission denied' }],
  [78, { dsn: '5.3.5', text: 'local configuration error' }],
]);

export function sysexitDetail(code: number): { dsn: string; text: string } {
  return SYSEXITS.get(code) ?? { dsn: '5.3.0', text: 'unknown mail system error' };
}

export interface CommandOutcome {
  readonly status: 'sent' | 'deferred' | 'bounced';
  readonly dsn: string;
  readonly reason: string;
}

/** local(8)'s wording: `Command died with status 1: "cmd". Command output: ...`. */
export function commandOutcome(res: CommandResult, shown: string, sentText: string): CommandOutcome {
  const withOutput = (t: string, out: string): string => (out ? `${t}. Command output: ${out}` : t);
  switch (res.kind) {
    case 'ok':
      return { status: 'sent', dsn: '2.0.0', reason: sentText };
    case 'exit': {
      const d = sysexitDetail(res.code);
      return {
        status: d.dsn.startsWith('4') ? 'deferred' : 'bounced',
        dsn: d.dsn,
        reason: withOutput(`Command died with status ${res.code}: "${shown}"`, res.output),
      };
    }
    case 'signal':
      return {
        status: 'deferred',
        dsn: '4.3.0',
        reason: withOutput(`Command died with signal ${signalNumber(res.signal)}: "${shown}"`, res.output),
      };
    case 'timeout':
      return {
        status: 'deferred',
        dsn: '4.3.0',
        reason: withOutput(`Command time limit exceeded: "${shown}"`, res.output),
      };
    case 'error':
      return { status: 'deferred', dsn: '4.3.0', reason: res.reason };
  }
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

function signalNumber(name: string): string {
  return String(SIGNALS[name] ?? name);
}
