// A real Postern mail system for end-to-end tests: `bin/postfix -c DIR start`
// on a temporary configuration (stock master.cf services, smtpd on a free
// loopback port, relayhost pointing at a RecordingReceiver), plus real clients
// (swaks, python3 smtplib) and bounded waits on the mail log.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, isRoot } from '../master/harness.js';
import { runBin, type BinResult } from '../postfix/run-bin.js';

import { nobodySkip } from '../master/harness.js';

/** Why an end-to-end test cannot run here (code unreachable for the worker, a client program missing), or false. */
export function e2eSkip(...programs: string[]): string | false {
  if (nobodySkip) return nobodySkip;
  const path = (process.env['PATH'] ?? '/usr/bin:/bin').split(':');
  for (const p of programs) if (!path.some((d) => existsSync(join(d, p)))) return `${p} is not installed`;
  return false;
}

/** The daemons of a stock master.cf that the mail flow needs, as Postfix ships them. */
export function stockMasterCf(smtpdPort: number, extra = ''): string {
  return `# master.cf for an end-to-end test
127.0.0.1:${smtpdPort} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
  -o syslog_name=postfix/$service_name
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
${extra}`;
}

export interface E2eSystem {
  readonly base: string;
  readonly configDir: string;
  readonly queueDir: string;
  readonly maillog: string;
  readonly port: number;
  postfix(...args: string[]): Promise<BinResult>;
  log(): Promise<string>;
  /** Resolves with the log once `pattern` matches; fails after timeoutMs with the whole log. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  cleanup(): Promise<void>;
}

export async function startMailSystem(opts: {
  mainCf: string;
  masterCfExtra?: string;
  /** The whole master.cf, given the smtpd port (instead of stockMasterCf). */
  masterCf?: (port: number) => string;
}): Promise<E2eSystem> {
  const base = await mkdtemp(join(tmpdir(), 'postern-e2e-'));
  const configDir = join(base, 'etc');
  const queueDir = join(base, 'spool');
  const maillog = join(base, 'maillog');
  await mkdir(configDir, { recursive: true });
  await mkdir(queueDir, { recursive: true });
  for (const d of [base, configDir, queueDir]) await chmod(d, 0o755);
  const port = await freePort();
  const owner = isRoot ? 'nobody' : userInfo().username;
  await writeFile(
    join(configDir, 'main.cf'),
    `compatibility_level = 3.6
mail_owner = ${owner}
queue_directory = ${queueDir}
maillog_file = ${maillog}
maillog_file_prefixes = ${base}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtpd_peername_lookup = no
${opts.mainCf}
`,
  );
  await writeFile(join(configDir, 'master.cf'), opts.masterCf?.(port) ?? stockMasterCf(port, opts.masterCfExtra));
  const sys: E2eSystem = {
    base,
    configDir,
    queueDir,
    maillog,
    port,
    postfix: (...args) => runBin('postfix', ['-c', configDir, ...args]),
    log: () => readFile(maillog, 'utf8').catch(() => ''),
    async waitForLog(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = await sys.log();
        if (pattern.test(text)) return text;
        if (Date.now() > deadline) throw new Error(`no log line ${pattern} within ${timeoutMs} ms; log:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async cleanup() {
      await sys.postfix('abort').catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    },
  };
  const started = await sys.postfix('start');
  if (started.code !== 0) {
    const log = await sys.log();
    await rm(base, { recursive: true, force: true });
    throw new Error(`postfix start failed (${started.code}): ${started.stderr}\n${log}`);
  }
  // The worker has started its services once the smtpd socket is served.
  await sys.waitForLog(/postfix\/master\[\d+\]: daemon started/);
  return sys;
}

export interface ProcResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program with a time limit (swaks, python3). */
export function run(cmd: string, args: readonly string[], input = '', timeoutMs = 30_000): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')}: no exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** swaks one message; returns the queue ID from `250 2.0.0 Ok: queued as ID`. */
export async function swaks(port: number, from: string, to: string, extra: string[] = []): Promise<string> {
  const r = await run('swaks', [
    '--server',
    `127.0.0.1:${port}`,
    '--helo',
    'client.example.test',
    '--from',
    from,
    '--to',
    to,
    '--header',
    'Subject: e2e test',
    '--body',
    'end-to-end body line',
    ...extra,
  ]);
  const m = /<[-~]\s+250 2\.0\.0 Ok: queued as (\w+)/.exec(r.stdout); // `<~` once TLS is on
  if (!m?.[1]) throw new Error(`swaks did not get a queue ID (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return m[1];
}
