// Without root (the embedded default), local(8) delivers only as the
// invoking user: to that user's own mailbox, and never as anyone else. As
// root the check runs in a child process switched to a test user; as any
// other user it runs as that user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chown, mkdir, readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getpw } from '../../src/util/passwd.js';
import { HELPER_PATH } from '../../src/daemons/local/mail-writer.js';
import { ensureUser, isRoot, openDir } from './harness.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'deliver-as-self.js');

test(
  'without root: own mailbox delivered, another user deferred',
  { skip: existsSync(HELPER_PATH) ? undefined : 'delivery helper not built' },
  async (t) => {
    const self = isRoot ? ensureUser('pstlocal1') : getpw(userInfo().username);
    const other = isRoot ? ensureUser('pstlocal2') : getpw('nobody');
    if (!self || !other || self.uid === other.uid) return t.skip('no second user to compare with');
    const dir = await openDir(t, 'unpriv');
    const spool = `${dir}/spool`;
    await mkdir(spool);
    if (isRoot) await chown(spool, self.uid, self.gid);
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [fixture, spool, `${self.name}@mx.example.com`, `${other.name}@mx.example.com`],
        { uid: isRoot ? self.uid : undefined, gid: isRoot ? self.gid : undefined, timeout: 30_000 },
        (err, out) => (err ? reject(new Error(err.message)) : resolve(out)),
      );
    });
    const [mine, theirs] = JSON.parse(stdout) as { status: string; reason: string }[];
    assert.deepEqual([mine?.status, mine?.reason], ['sent', 'delivered to mailbox']);
    assert.equal(theirs?.status, 'deferred');
    assert.match(
      theirs?.reason ?? '',
      new RegExp(`cannot deliver as user ${other.name} \\(uid ${other.uid}\\) without root privileges`),
    );
    assert.equal((await stat(`${spool}/${self.name}`)).uid, self.uid);
    assert.match(await readFile(`${spool}/${self.name}`, 'utf8'), /^From sender@example\.org /);
    assert.ok(!existsSync(`${spool}/${other.name}`));
  },
);
