// Boots a real Postern mail system from a temporary directory for master and
// postfix(1) tests: a main.cf with its own queue and log file, a master.cf
// whose inet service is the banner fixture on a free loopback port, and
// helpers to talk to it and to wait for log lines (bounded in time).
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { getCodeRoot, projectRoot, runBin, setCodeRoot, type BinResult } from '../postfix/run-bin.js';
import { getpw } from '../../src/util/passwd.js';
import { unreachableBy } from '../../src/daemons/master/privilege.js';

export const isRoot = (process.getuid?.() ?? 1) === 0;

/**
 * As root, the worker (and the unprivileged runs) use `nobody`, which must be
 * able to reach the code. A checkout under a private home directory (CI may
 * clone there) is copied once to a temporary directory that nobody can reach,
 * and the tests run the copy; only if that fails too do they skip, saying why.
 */
export const nobodySkip: string | false = ((): string | false => {
  if (!isRoot) return false;
  const pw = getpw('nobody');
  if (!pw) return 'no user nobody to run the worker as';
  const id = { uid: pw.uid, gid: pw.gid, user: 'nobody' };
  const tmpWhy = unreachableBy(tmpdir(), id);
  if (tmpWhy) return `as root the worker runs as nobody, but ${tmpWhy}`;
  if (!unreachableBy(join(projectRoot, 'dist', 'src'), id)) return false;
  try {
    const copy = mkdtempSync(join(tmpdir(), 'postern-code-'));
    chmodSync(copy, 0o755);
    for (const part of ['bin', 'dist', 'package.json'])
      cpSync(join(projectRoot, part), join(copy, part), { recursive: true });
    process.on('exit', () => rmSync(copy, { recursive: true, force: true }));
    setCodeRoot(copy);
    return false;
  } catch (e) {
    return `as root the worker runs as nobody, who cannot reach ${projectRoot}, and copying it failed: ${(e as Error).message}`;
  }
})();

/** The fixture service module, in the code that the tests run (see nobodySkip). */
export const FIXTURE = join(getCodeRoot(), 'dist', 'test', 'master', 'fixtures', 'banner-service.js');

export interface MailSystem {
  readonly base: string;
  readonly configDir: string;
  readonly queueDir: string;
  readonly maillog: string;
  readonly port: number;
  /** Who runs the postfix command: undefined = this process's user. */
  readonly runAs?: { uid: number; gid: number };
  postfix(...args: string[]): Promise<BinResult>;
  log(): Promise<string>;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  writeMasterCf(serviceLine?: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** Ports already handed out by this process: two calls must never return the same one. */
const handedOut = new Set<number>();

function onePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A free loopback port. The kernel may give a just-closed port again, so a
 * test asking for two ports could get one twice; remember what was handed out.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await onePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no fresh loopback port after 50 tries');
}

/**
 * `unprivileged`: as root, run the postfix command itself as `nobody` with
 * mail_owner = nobody (the unprivileged mode); otherwise as root with the
 * worker switched to nobody. Not root: everything as this user.
 */
export async function makeMailSystem(opts: { unprivileged?: boolean; extraMainCf?: string } = {}): Promise<MailSystem> {
  const base = await mkdtemp(join(tmpdir(), 'postern-master-'));
  const nobody = getpw('nobody');
  const runAs = isRoot && opts.unprivileged && nobody ? { uid: nobody.uid, gid: nobody.gid } : undefined;
  const owner = isRoot ? 'nobody' : userInfo().username;
  const configDir = join(base, 'etc');
  const queueDir = join(base, 'spool');
  const maillog = join(base, 'maillog');
  await mkdir(configDir, { recursive: true });
  await mkdir(queueDir, { recursive: true });
  // the worker (and an unprivileged postfix command) must reach these as nobody
  await chmod(base, 0o755);
  await chmod(configDir, 0o755);
  await chmod(queueDir, 0o755);
  if (runAs) {
    const { chown } = await import('node:fs/promises');
    await chown(queueDir, runAs.uid, runAs.gid);
    await chown(base, runAs.uid, runAs.gid);
  }
  const port = await freePort();
  await writeFile(
    join(configDir, 'main.cf'),
    `myhostname = mx.example.test
mail_owner = ${owner}
queue_directory = ${queueDir}
maillog_file = ${maillog}
maillog_file_prefixes = ${base}
smtpd_banner = test banner
${opts.extraMainCf ?? ''}`,
  );
  const sys: MailSystem = {
    base,
    configDir,
    queueDir,
    maillog,
    port,
    runAs,
    postfix: (...args) => runBin('postfix', ['-c', configDir, ...args], { uid: runAs?.uid, gid: runAs?.gid }),
    log: () => readFile(maillog, 'utf8').catch(() => ''),
    async waitForLog(pattern, timeoutMs = 15000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = await sys.log();
        if (pattern.test(text)) return text;
        if (Date.now() > deadline) throw new Error(`no log line ${pattern} within ${timeoutMs} ms; log:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async writeMasterCf(serviceLine = `127.0.0.1:${port} inet n - n - - ${FIXTURE}`) {
      await writeFile(join(configDir, 'master.cf'), `# test master.cf\n${serviceLine}\nqmqpd unix n - n - 0 qmqpd\n`);
    },
    async cleanup() {
      await sys.postfix('abort').catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    },
  };
  await sys.writeMasterCf();
  return sys;
}

/** A line-oriented client: read the greeting, send lines, read replies; bounded waits. */
export class LineClient {
  private buffer = '';
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      for (const w of this.waiters.splice(0)) w();
    });
    const end = (): void => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  static open(port: number, timeoutMs = 5000): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error('connect timeout'));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(new LineClient(s));
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  async readLine(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buffer.indexOf('\r\n');
      if (i >= 0) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        return line;
      }
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('read timeout');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Writes raw text without waiting for a reply (message content). */
  send(text: string): void {
    this.socket.write(text);
  }

  async command(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.readLine();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The greeting of a fresh connection, retried while the service (re)starts. */
export async function greeting(port: number, timeoutMs = 15000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const c = await LineClient.open(port);
      try {
        return await c.readLine();
      } finally {
        c.close();
      }
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`no greeting on port ${port}: ${(last as Error)?.message}`);
}
