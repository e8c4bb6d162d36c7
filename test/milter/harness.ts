// Real milters for the tests: test/milter/fixtures/test-milter.py (Debian's
// python3-milter, Sendmail's libmilter underneath) started on a free
// loopback port, with its event log read back as JSON lines. Tests skip with
// a clear reason when python3-milter is missing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../master/harness.js';
import { projectRoot } from '../postfix/run-bin.js';

/** Debian's python3 (python3-milter is installed for it, not for other interpreters on PATH). */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(projectRoot, 'test', 'milter', 'fixtures', 'test-milter.py');

/** Why milter tests cannot run here, or false. */
export const milterSkip: string | false = (() => {
  const r = spawnSync(PYTHON, ['-c', 'import Milter'], { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0 ? false : 'python3-milter is not installed (apt-get install python3-milter)';
})();

export interface MilterEvent {
  readonly event: string;
  readonly [key: string]: unknown;
}

export interface TestMilter {
  /** The endpoint for smtpd_milters: `inet:127.0.0.1:PORT`. */
  readonly spec: string;
  readonly port: number;
  events(): Promise<MilterEvent[]>;
  /** Resolves once an event of this name was logged (bounded wait). */
  waitFor(event: string, timeoutMs?: number): Promise<MilterEvent[]>;
  stop(): Promise<void>;
}

function listening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of readFileSync(f, 'utf8').split('\n')) {
        const cols = line.trim().split(/\s+/);
        if (cols[1]?.endsWith(hex.trim()) && cols[3] === '0A') return true;
      }
    } catch {
      // no such table
    }
  }
  return false;
}

/** Start the fixture milter with these actions (see the script's header) on a loopback port. */
export function startMilter(...actions: string[]): Promise<TestMilter> {
  return launch(false, actions);
}

/** The same on a unix-domain socket in a temporary directory (`unix:/tmp/.../milter.sock`). */
export function startUnixMilter(...actions: string[]): Promise<TestMilter> {
  return launch(true, actions);
}

async function launch(unix: boolean, actions: string[]): Promise<TestMilter> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-milter-'));
  const log = join(dir, 'events.jsonl');
  const port = unix ? 0 : await freePort();
  const sock = join(dir, 'milter.sock');
  const child: ChildProcess = spawn(
    PYTHON,
    [SCRIPT, unix ? `unix:${sock}` : `inet:${port}@127.0.0.1`, log, ...actions],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const up = (): boolean => (unix ? existsSync(sock) : listening(port));
  for (let i = 0; i < 400 && !up(); i++) {
    if (child.exitCode !== null) throw new Error(`test milter exited: ${stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!up()) {
    child.kill('SIGKILL');
    throw new Error(`test milter did not listen: ${stderr}`);
  }
  const events = async (): Promise<MilterEvent[]> => {
    const text = await readFile(log, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as MilterEvent);
  };
  return {
    spec: unix ? `unix:${sock}` : `inet:127.0.0.1:${port}`,
    port,
    events,
    async waitFor(event, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ev = await events();
        if (ev.some((e) => e.event === event)) return ev;
        if (Date.now() > deadline) throw new Error(`milter event ${event} not seen; got ${JSON.stringify(ev)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop() {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
