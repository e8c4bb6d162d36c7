// lmtp(8) into a real Dovecot LMTP server (Debian's dovecot-lmtpd, installed
// by .ci/setup.d/46-dovecot-lmtp.sh) started by the test with a private
// config: a passwd-file userdb with one user, Maildir under a temp
// directory, the LMTP socket in that directory. Checks per-recipient replies
// after DATA (one delivered, one unknown user bounced) and the Maildir file.
// Dovecot drops privileges to its own users, so this needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeAgent, makeRequest } from './harness.js';

const canRun = existsSync('/usr/lib/dovecot/lmtp') && existsSync('/usr/sbin/dovecot') && process.getuid?.() === 0;
const skip = !canRun && 'needs root, /usr/sbin/dovecot and /usr/lib/dovecot/lmtp (dovecot-lmtpd)';
let dir = '';

before(async () => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), 'postern-lmtp-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'mail'), { mode: 0o777 });
  chmodSync(join(dir, 'mail'), 0o777);
  writeFileSync(join(dir, 'users'), `eve@lmtp.test:{PLAIN}x:65534:65534::${dir}/mail/eve\n`, { mode: 0o644 });
  writeFileSync(
    join(dir, 'dovecot.conf'),
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${dir}/dovecot.log`,
      'protocols = lmtp',
      'ssl = no',
      `mail_location = maildir:${dir}/mail/%n`,
      'passdb {',
      '  driver = passwd-file',
      `  args = ${dir}/users`,
      '}',
      'userdb {',
      '  driver = passwd-file',
      `  args = ${dir}/users`,
      '}',
      'service lmtp {',
      `  unix_listener ${dir}/lmtp {`,
      '    mode = 0666',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  execFileSync('/usr/sbin/dovecot', ['-c', join(dir, 'dovecot.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 300 && !existsSync(join(dir, 'lmtp')); i++) await new Promise((r) => setTimeout(r, 50));
});

after(async () => {
  const pidFile = join(dir, 'run', 'master.pid');
  if (dir && existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100; i++) {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 50));
      }
    } catch {
      // Gone.
    }
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('lmtp to Dovecot: per-recipient replies after DATA, the message in Maildir', { skip }, async () => {
  const { agent, log } = makeAgent('', undefined, 'lmtp');
  const body = 'Subject: via lmtp\r\nFrom: a@client.test\r\n\r\nhello dovecot\r\n';
  const outcomes = await agent.deliver(
    makeRequest(`unix:${dir}/lmtp`, ['eve@lmtp.test', 'nobody@lmtp.test'], {}, body),
  );
  await agent.close();
  const [eve, nobody] = outcomes;
  assert.equal(eve?.status, 'sent', `${eve?.reason} ${log.texts().join('\n')}`);
  assert.equal(eve?.dsn, '2.0.0');
  assert.match(eve?.relay ?? '', /\[.*lmtp\]$/);
  assert.equal(nobody?.status, 'bounced');
  assert.equal(nobody?.dsn, '5.1.1');
  assert.match(
    nobody?.reason ?? '',
    /^host .* said: 550 5\.1\.1 .*nobody@lmtp\.test.* \(in reply to RCPT TO command\)$/,
  );
  const newDir = join(dir, 'mail', 'eve', 'new');
  const files = existsSync(newDir) ? readdirSync(newDir) : [];
  assert.equal(files.length, 1);
  const stored = readFileSync(join(newDir, files[0] ?? ''), 'utf8');
  assert.match(stored, /Subject: via lmtp/);
  assert.match(stored, /hello dovecot/);
});
