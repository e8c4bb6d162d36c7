// local(8) in verify mode (sendmail -bv), as root with real users: the
// answer for mailboxes, alias files, alias commands, .forward chains and
// remote forwarding says where mail would go, and nothing is written, run or
// queued — no mailbox, no file, no command output, no cleanup transaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createLocalAgent } from '../../src/daemons/local/local.js';
import type { CleanupService } from '../../src/global/queue/cleanup-api.js';
import { ensureUser, openDir, request, MESSAGE, skipReason } from './harness.js';

const HOST = 'mx.example.com';

test(
  'local verify mode: mailbox, file, command, forward and unknown user answered; nothing written',
  { skip: skipReason() },
  async (t) => {
    ensureUser('pstlocal1');
    ensureUser('pstlocal2');
    const dir = await openDir(t, 'lvrfy');
    const spool = `${dir}/spool`;
    const out = `${dir}/out`;
    for (const d of [spool, out]) {
      await mkdir(d);
      await chmod(d, 0o1777);
    }
    await mkdir(`${dir}/fwd`);
    await writeFile(`${dir}/fwd/pstlocal2.forward`, `${out}/p2\n`);
    await writeFile(
      `${dir}/aliases`,
      [`tofile ${out}/archive`, `tocmd "|touch ${out}/ran"`, `ext remote@example.net`].join('\n'),
    );
    let opened = 0;
    const cleanup: CleanupService = {
      open: () => {
        opened++;
        return Promise.reject(new Error('verify mode must not queue a forwarded copy'));
      },
    };
    const agent = createLocalAgent({
      config: Config.fromText(
        `myhostname = ${HOST}\nmydestination = ${HOST}\nmyorigin = ${HOST}\nmail_spool_directory = ${spool}\n` +
          `alias_maps = texthash:${dir}/aliases\nforward_path = ${dir}/fwd/$user.forward\n`,
      ),
      logger: new MemoryLogger('postfix/local'),
      cleanup,
    });
    const rcpts = ['pstlocal1', 'pstlocal2', 'tofile', 'tocmd', 'ext', 'nosuch'].map((u) => `${u}@${HOST}`);
    const out6 = await agent.deliver({ ...request({ recipients: rcpts, content: MESSAGE }), verifyOnly: true });
    assert.deepEqual(
      out6.map((o) => [o.status, o.dsn, o.reason]),
      [
        ['sent', '2.0.0', 'delivers to mailbox'],
        ['sent', '2.0.0', `delivers to file: ${out}/p2`],
        ['sent', '2.0.0', `delivers to file: ${out}/archive`],
        ['sent', '2.0.0', `delivers to command: touch ${out}/ran`],
        ['sent', '2.0.0', 'forwards to <remote@example.net>'],
        ['bounced', '5.1.1', 'unknown user: "nosuch"'],
      ],
    );
    assert.deepEqual(await readdir(spool), [], 'no mailbox was created');
    assert.deepEqual(await readdir(out), [], 'no file written, no command run');
    assert.equal(opened, 0);
  },
);
