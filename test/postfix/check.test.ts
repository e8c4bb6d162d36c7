// postfix(1) without a running mail system: `check` names the file and line
// of configuration errors, and the control commands answer as postfix-script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { runBin } from './run-bin.js';

const owner = (process.getuid?.() ?? 1) === 0 ? 'nobody' : userInfo().username;
const GOOD_MASTER = 'smtp inet n - n - - smtpd\ncleanup unix n - n - 0 cleanup\n';

async function withConfig(mainCf: string, masterCf: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-check-'));
  try {
    await chmod(dir, 0o755);
    await writeFile(join(dir, 'main.cf'), `mail_owner = ${owner}\nqueue_directory = ${dir}/spool\n${mainCf}`, {
      mode: 0o644,
    });
    await writeFile(join(dir, 'master.cf'), masterCf, { mode: 0o644 });
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('check passes a good configuration and notes the missing queue directory', async () => {
  await withConfig('myhostname = mx.example.com\n', GOOD_MASTER, async (dir) => {
    const r = await runBin('postfix', ['-c', dir, 'check']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /postfix\/postfix-script: warning: queue_directory .*\/spool does not exist/);
  });
});

test('check names main.cf and the line of a syntax error', async () => {
  await withConfig('myhostname = mx.example.com\nthis is bad\n', GOOD_MASTER, async (dir) => {
    const r = await runBin('postfix', ['-c', dir, 'check']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`postfix: fatal: ${dir}/main\\.cf, line 4: `));
  });
});

test('check names master.cf and the line of a bad entry', async () => {
  const bad = `${GOOD_MASTER}# comment\nbroken inet n -\nsmtp2 inet x - n - - smtpd\n`;
  await withConfig('', bad, async (dir) => {
    const r = await runBin('postfix', ['-c', dir, 'check']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`postfix: fatal: file ${dir}/master\\.cf: line 4: bad field count`));
    assert.match(
      r.stderr,
      new RegExp(`file ${dir}/master\\.cf: line 5: invalid private field "x" in "smtp2 inet x - n - - smtpd"`),
    );
  });
});

test('check reports a missing master.cf, an unknown port name and a bad maillog_file', async () => {
  await withConfig('maillog_file = /etc/postern.log\n', 'nosuchport inet n - n - - smtpd\n', async (dir) => {
    const r = await runBin('postfix', ['-c', dir, 'check']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /line 1: service nosuchport\/inet: unknown service: nosuchport\/tcp/);
    assert.match(r.stderr, /maillog_file: value "\/etc\/postern\.log" does not match/);
    await unlink(join(dir, 'master.cf'));
    const m = await runBin('postfix', ['-c', dir, 'check']);
    assert.match(m.stderr, new RegExp(`fatal: open ${dir}/master\\.cf: No such file or directory`));
  });
});

test('check warns about group or other writable configuration', async () => {
  await withConfig('', GOOD_MASTER, async (dir) => {
    await chmod(join(dir, 'main.cf'), 0o666);
    const r = await runBin('postfix', ['-c', dir, 'check']);
    assert.equal(r.code, 0);
    assert.match(r.stderr, new RegExp(`postfix/postfix-script: warning: group or other writable: ${dir}/main\\.cf`));
  });
});

test('MAIL_CONFIG selects the directory; a missing main.cf is fatal', async () => {
  await withConfig('', 'smtp inet n - n - - smtpd\nbad\n', async (dir) => {
    const r = await runBin('postfix', ['check'], { env: { MAIL_CONFIG: dir } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${dir}/master\\.cf: line 2: bad field count`));
  });
  const r = await runBin('postfix', ['-c', '/nonexistent/postern', 'status']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /postfix: fatal: open \/nonexistent\/postern\/main\.cf/);
});

test('control commands when the mail system is not running', async () => {
  await withConfig('', GOOD_MASTER, async (dir) => {
    const status = await runBin('postfix', ['-c', dir, 'status']);
    assert.equal(status.code, 1);
    assert.match(status.stderr, /^postfix\/postfix-script: the Postfix mail system is not running$/m);
    for (const cmd of ['stop', 'reload', 'abort']) {
      const r = await runBin('postfix', ['-c', dir, cmd]);
      assert.equal(r.code, 1, cmd);
      assert.match(r.stderr, /postfix\/postfix-script: fatal: the Postfix mail system is not running/);
    }
    const flush = await runBin('postfix', ['-c', dir, 'flush']);
    assert.equal(flush.code, 69);
    const unknown = await runBin('postfix', ['-c', dir, 'bogus']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /fatal: unknown command: 'bogus'\. Usage: postfix start \(or stop, reload/);
  });
});

test('start refuses a broken configuration and leaves no pid file', async () => {
  await withConfig('', 'smtp inet n - n\n', async (dir) => {
    const r = await runBin('postfix', ['-c', dir, 'start']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /master\.cf: line 1: bad field count/);
    assert.equal(existsSync(join(dir, 'spool', 'pid', 'master.pid')), false);
  });
});
