// virtual(8) end to end as root: mailbox paths from virtual_mailbox_maps
// under virtual_mailbox_base, uid/gid from the maps (static: included), the
// virtual_minimum_uid floor, maildir and mbox files owned by the mapped uid,
// and virtual_mailbox_limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createVirtualAgent } from '../../src/daemons/virtual/virtual.js';
import { ensureUser, openDir, request, MESSAGE, skipReason } from '../local/harness.js';

const skip = skipReason();

async function setup(t: Parameters<typeof openDir>[0], extra = '') {
  const v = ensureUser('pstvirt1');
  const dir = await openDir(t, 'virtual');
  const base = `${dir}/vmail`;
  await mkdir(base);
  await chown(base, v.uid, v.gid);
  await writeFile(
    `${dir}/mailboxes`,
    `alice@hosted.example hosted.example/alice/\nbob@hosted.example hosted.example/bob.mbox\ncarol@hosted.example deep/er/carol.mbox\n@catchall.example catchall/\n`,
  );
  const config = Config.fromText(
    `virtual_mailbox_domains = hosted.example, catchall.example\nvirtual_mailbox_base = ${base}\n` +
      `virtual_mailbox_maps = texthash:${dir}/mailboxes\nvirtual_uid_maps = static:${v.uid}\n` +
      `virtual_gid_maps = static:${v.gid}\nrecipient_delimiter = +\ndeliver_lock_delay = 0s\n${extra}`,
  );
  return { v, dir, base, agent: createVirtualAgent({ config, logger: new MemoryLogger('postfix/virtual') }) };
}

test('maildir and mbox mailboxes from the maps, owned by the mapped uid/gid', { skip }, async (t) => {
  const s = await setup(t);
  const out = await s.agent.deliver(
    request({
      recipients: ['alice+tag@hosted.example', 'bob@hosted.example', 'anyone@catchall.example'],
      content: MESSAGE,
      transport: 'virtual',
    }),
  );
  assert.deepEqual(
    out.map((o) => [o.status, o.reason]),
    [
      ['sent', 'delivered to maildir'],
      ['sent', 'delivered to mailbox'],
      ['sent', 'delivered to maildir'],
    ],
  );
  const newDir = `${s.base}/hosted.example/alice/new`;
  const files = await readdir(newDir);
  assert.equal(files.length, 1);
  const st = await stat(`${newDir}/${files[0] ?? ''}`);
  assert.deepEqual([st.uid, st.gid], [s.v.uid, s.v.gid]);
  assert.match(
    await readFile(`${newDir}/${files[0] ?? ''}`, 'utf8'),
    /^Return-Path: <sender@example\.org>\nX-Original-To: alice\+tag@hosted\.example\nDelivered-To: alice\+tag@hosted\.example\n/,
  );
  const mbox = await readFile(`${s.base}/hosted.example/bob.mbox`, 'utf8');
  assert.match(mbox, /^From sender@example\.org /);
  assert.ok(mbox.includes('\n>From the start\n'));
  assert.equal((await stat(`${s.base}/hosted.example/bob.mbox`)).uid, s.v.uid);
  assert.equal((await readdir(`${s.base}/catchall/new`)).length, 1);
});

test('unknown mailbox bounces 5.1.1; uid below virtual_minimum_uid or missing defers', { skip }, async (t) => {
  const s = await setup(t);
  const [a] = await s.agent.deliver(request({ recipients: ['nobody@hosted.example'], content: MESSAGE }));
  assert.deepEqual([a?.status, a?.dsn, a?.reason], ['bounced', '5.1.1', 'unknown user: "nobody@hosted.example"']);
  const low = await setup(t, `virtual_minimum_uid = ${s.v.uid + 1}\n`);
  const [b] = await low.agent.deliver(request({ recipients: ['alice@hosted.example'], content: MESSAGE }));
  assert.equal(b?.status, 'deferred');
  assert.match(b?.reason ?? '', /bad uid \d+ in virtual_uid_maps/);
  const root = await setup(t, `virtual_uid_maps = static:0\nvirtual_minimum_uid = 0\n`);
  const [c] = await root.agent.deliver(request({ recipients: ['bob@hosted.example'], content: MESSAGE }));
  assert.equal(c?.status, 'deferred');
  assert.ok(!existsSync(`${root.base}/hosted.example/bob.mbox`), 'nothing written as root');
});

test('virtual_mailbox_limit bounces 5.2.2; a symlinked mbox is refused', { skip }, async (t) => {
  const s = await setup(t, 'virtual_mailbox_limit = 300\n');
  await mkdir(`${s.base}/hosted.example`);
  await chown(`${s.base}/hosted.example`, s.v.uid, s.v.gid);
  const [a] = await s.agent.deliver(
    request({ recipients: ['bob@hosted.example'], content: `${MESSAGE}${'y'.repeat(400)}\n` }),
  );
  assert.deepEqual([a?.status, a?.dsn], ['bounced', '5.2.2']);
  assert.equal((await readFile(`${s.base}/hosted.example/bob.mbox`)).length, 0, 'partial write rolled back');
  const other = await setup(t);
  await mkdir(`${other.base}/hosted.example`);
  await chown(`${other.base}/hosted.example`, s.v.uid, s.v.gid);
  const target = `${other.dir}/target`;
  await writeFile(target, 'keep\n');
  await chown(target, s.v.uid, s.v.gid);
  await symlink(target, `${other.base}/hosted.example/bob.mbox`);
  const [b] = await other.agent.deliver(request({ recipients: ['bob@hosted.example'], content: MESSAGE }));
  assert.equal(b?.status, 'deferred');
  assert.equal(await readFile(target, 'utf8'), 'keep\n');
});

test('missing parent directories of an mbox are created as the mapped user', { skip }, async (t) => {
  const s = await setup(t);
  const [o] = await s.agent.deliver(request({ recipients: ['carol@hosted.example'], content: MESSAGE }));
  assert.deepEqual([o?.status, o?.reason], ['sent', 'delivered to mailbox']);
  for (const p of [`${s.base}/deep`, `${s.base}/deep/er`, `${s.base}/deep/er/carol.mbox`]) {
    const st = await stat(p);
    assert.equal(st.uid, s.v.uid, p);
    assert.equal(st.mode & 0o077, 0, `${p} private to the user`);
  }
});
