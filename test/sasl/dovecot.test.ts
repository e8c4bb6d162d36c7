// smtpd_sasl_type = dovecot against a real Dovecot (Debian's dovecot-core,
// installed by .ci/setup.d/45-dovecot.sh) started by the test with its own
// config: passwd-file passdb, auth socket in a temp directory. Checks the
// mechanism list, PLAIN, SCRAM-SHA-256 (run by Dovecot, relayed by smtpd),
// python smtplib's login() and a failed attempt. Dovecot drops privileges to
// its own users, so this needs root; otherwise it is skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createSmtpdAuth } from '../../src/daemons/smtpd/sasl/server-auth.js';
import { BASE_MAIN_CF, startSmtpd, type Harness } from '../smtpd/harness.js';
import { SmtpTestClient } from '../tls/tls-client.js';

const canRun = existsSync('/usr/sbin/dovecot') && process.getuid?.() === 0;
const skip = !canRun && 'needs root and /usr/sbin/dovecot (dovecot-core)';
let dir = '';
let h: Harness | undefined;
let log: MemoryLogger;

async function stopDovecot(): Promise<void> {
  const pidFile = join(dir, 'run', 'master.pid');
  if (!dir || !existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    process.kill(pid, 'SIGTERM');
    // Bounded wait for the master to take its children down.
    for (let i = 0; i < 100; i++) {
      process.kill(pid, 0);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch {
    // Gone.
  }
}

before(async () => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), 'postern-dovecot-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'users'), 'eve:{PLAIN}3ve-pass\n', { mode: 0o644 });
  writeFileSync(
    join(dir, 'dovecot.conf'),
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${dir}/dovecot.log`,
      'protocols =',
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain login cram-md5 scram-sha-256',
      'auth_failure_delay = 0',
      'passdb {',
      '  driver = passwd-file',
      `  args = ${dir}/users`,
      '}',
      'userdb {',
      '  driver = static',
      `  args = uid=65534 gid=65534 home=${dir}`,
      '}',
      'service auth {',
      `  unix_listener ${dir}/auth {`,
      '    mode = 0666',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  execFileSync('/usr/sbin/dovecot', ['-c', join(dir, 'dovecot.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 300 && !existsSync(join(dir, 'auth')); i++) await new Promise((r) => setTimeout(r, 50));
  const cf = `smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = dovecot\nsmtpd_sasl_path = ${dir}/auth`;
  log = new MemoryLogger('postfix/smtpd');
  const auth = createSmtpdAuth(Config.fromText(`${BASE_MAIN_CF}\n${cf}\n`), undefined, log);
  await auth.ready();
  h = await startSmtpd(cf, { extra: { auth } });
});

after(async () => {
  await h?.close();
  await stopDovecot();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

test('EHLO lists the mechanisms Dovecot offers; PLAIN succeeds and fails', { skip }, async () => {
  const c = await SmtpTestClient.plain(h!.port);
  await c.reply();
  assert.match(await c.cmd('EHLO x'), /\n250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\n/);
  assert.equal(
    await c.cmd(`AUTH PLAIN ${b64('\0eve\0wrong')}`),
    '535 5.7.8 Error: authentication failed: authentication failure',
  );
  assert.equal(await c.cmd('AUTH PLAIN'), '334 ');
  assert.equal(await c.cmd(b64('\0eve\x003ve-pass')), '235 2.7.0 Authentication successful');
  c.close();
  assert.ok(log.texts().some((l) => l.startsWith('warning: localhost[127.0.0.1]: SASL PLAIN authentication failed:')));
});

test('SCRAM-SHA-256 (RFC 7677) through Dovecot', { skip }, async () => {
  const c = await SmtpTestClient.plain(h!.port);
  await c.reply();
  await c.cmd('EHLO x');
  const nonce = randomBytes(18).toString('base64');
  const bare = `n=eve,r=${nonce}`;
  const first = await c.cmd(`AUTH SCRAM-SHA-256 ${b64(`n,,${bare}`)}`);
  assert.match(first, /^334 /);
  const server = Buffer.from(first.slice(4), 'base64').toString();
  const f = new Map(server.split(',').map((kv): [string, string] => [kv.slice(0, 1), kv.slice(2)]));
  const salted = pbkdf2Sync('3ve-pass', Buffer.from(f.get('s') ?? '', 'base64'), Number(f.get('i')), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const stored = createHash('sha256').update(clientKey).digest();
  const without = `c=biws,r=${f.get('r') ?? ''}`;
  const authMsg = `${bare},${server},${without}`;
  const sig = createHmac('sha256', stored).update(authMsg).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ (sig[i] ?? 0)));
  const last = await c.cmd(b64(`${without},p=${proof.toString('base64')}`));
  // Dovecot sends its server signature as a final challenge, or with the success.
  const done = last.startsWith('334 ') ? await c.cmd('') : last;
  assert.equal(done, '235 2.7.0 Authentication successful');
  c.close();
});

test('python smtplib login() (it picks CRAM-MD5) through Dovecot', { skip }, async () => {
  const py = [
    'import smtplib',
    `s = smtplib.SMTP("127.0.0.1", ${h!.port}, timeout=15)`,
    's.ehlo("py.test")',
    's.login("eve", "3ve-pass")',
    's.quit()',
  ].join('\n');
  const r = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile('python3', ['-c', py], { timeout: 20_000 }, (err, so, se) =>
      resolve({ code: err ? 1 : 0, out: `${so}${se}` }),
    );
  });
  assert.equal(r.code, 0, r.out);
});
