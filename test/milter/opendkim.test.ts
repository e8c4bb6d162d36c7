// A real-world milter: Debian's opendkim signing mail that smtpd receives
// from an internal client. The DKIM-Signature header it inserts must reach
// the queued content above the headers it signed. Skips when opendkim is
// not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../master/harness.js';
import { content, RawClient, startSmtpd } from '../smtpd/harness.js';

const skip =
  existsSync('/usr/sbin/opendkim') && existsSync('/usr/sbin/opendkim-genkey')
    ? false
    : 'opendkim is not installed (apt-get install opendkim opendkim-tools)';

test('opendkim signs mail through smtpd_milters', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-dkim-'));
  const port = await freePort();
  const gen = spawnSync('/usr/sbin/opendkim-genkey', ['-D', dir, '-d', 'example.test', '-s', 'test'], {
    timeout: 30_000,
  });
  assert.equal(gen.status, 0, gen.stderr?.toString());
  await writeFile(
    join(dir, 'opendkim.conf'),
    `Syslog no\nMode s\nDomain example.test\nSelector test\nKeyFile ${join(dir, 'test.private')}\nSocket inet:${port}@127.0.0.1\nRequireSafeKeys false\nBackground no\nPidFile ${join(dir, 'pid')}\n`,
  );
  const child = spawn('/usr/sbin/opendkim', ['-f', '-x', join(dir, 'opendkim.conf')], { stdio: 'ignore' });
  const h = await startSmtpd(`smtpd_milters = inet:127.0.0.1:${port}\nmilter_default_action = tempfail`);
  try {
    // Bounded wait for opendkim's socket: a refused connection answers MAIL with 451 (default_action).
    let end = '';
    for (let i = 0; i < 100; i++) {
      const c = await RawClient.connect(h.port);
      await c.reply();
      await c.cmd('EHLO client.example.test');
      const mail = await c.cmd('MAIL FROM:<alice@example.test>');
      if (mail.startsWith('250')) {
        await c.cmd('RCPT TO:<bob@remote.test>');
        await c.cmd('DATA');
        c.send('From: Alice <alice@example.test>\r\nTo: bob@remote.test\r\nSubject: signed\r\n\r\nhello\r\n.\r\n');
        end = await c.reply(20_000);
        c.close();
        break;
      }
      c.close();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(end, /^250 2\.0\.0 Ok: queued as /);
    const [msg] = h.cleanup.committed();
    assert.ok(msg);
    const text = content(msg);
    const headers = (text.split('\r\n\r\n')[0] ?? '').split(/\r\n(?![ \t])/);
    const sig = headers.findIndex((l) => l.startsWith('DKIM-Signature:'));
    assert.ok(sig >= 0, text);
    assert.match(headers[sig] ?? '', /\bd=example\.test;/);
    assert.match(headers[sig] ?? '', /\bs=test;/);
    assert.ok(sig < headers.findIndex((l) => l.startsWith('From:')), text);
  } finally {
    await h.close();
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
