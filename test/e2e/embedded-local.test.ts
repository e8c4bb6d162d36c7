// The embedded default configuration (`npm start`) delivers mail for its
// local domain: swaks → smtpd → queue → qmgr → local(8) into the mail_owner's
// own mailbox under var/mail, which is the one mailbox the unprivileged core
// worker may write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeEmbeddedConfig } from '../../src/commands/postfix/embedded-config.js';
import { freePort, isRoot } from '../master/harness.js';
import { runBin } from '../postfix/run-bin.js';
import { e2eSkip, swaks } from './harness.js';

test('embedded config: mail to the local domain lands in the owner mailbox', { skip: e2eSkip('swaks') }, async () => {
  const base = await mkdtemp(join(tmpdir(), 'postern-embedded-local-'));
  const maillog = join(base, 'maillog');
  try {
    await chmod(base, 0o755);
    const port = await freePort();
    const paths = writeEmbeddedConfig({ baseDir: base, port, maillogFile: maillog });
    const owner = /^mail_owner = (\S+)$/m.exec(await readFile(join(paths.configDir, 'main.cf'), 'utf8'))?.[1] ?? '';
    assert.ok(owner);
    const pf = (cmd: string) => runBin('postfix', ['-c', paths.configDir, cmd]);
    if (isRoot) assert.equal((await pf('set-permissions')).code, 0);
    const start = await pf('start');
    assert.equal(start.code, 0, start.stderr);
    try {
      const id = await swaks(port, 'sender@localhost', `${owner}@localhost`);
      const deadline = Date.now() + 20_000;
      let log = '';
      while (!new RegExp(`${id}: removed`).test(log) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        log = await readFile(maillog, 'utf8').catch(() => '');
      }
      assert.match(
        log,
        new RegExp(
          `postfix/local\\[\\d+\\]: ${id}: to=<${owner}@localhost>, relay=local, .*status=sent \\(delivered to mailbox\\)`,
        ),
      );
      const mailbox = await readFile(join(paths.mailDir, owner), 'utf8');
      assert.match(mailbox, /^From sender@localhost /);
      assert.match(mailbox, new RegExp(`^Delivered-To: ${owner}@localhost$`, 'm'));
      assert.match(mailbox, /^Subject: e2e test$/m);
    } finally {
      await pf('stop');
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
