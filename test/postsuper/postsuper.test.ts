// postsuper(1) on a real queue, both ways it can run: with the mail system
// down (it opens the store under the queue lock) and with it running (the
// request goes over private/postsuper to the process that owns the store).
// Delete, hold, release, requeue by ID, ALL, queue name and `-` on stdin,
// with Postfix's messages. postsuper is root-only, as in Postfix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { getpw } from '../../src/util/passwd.js';
import { listMaildrop, readMaildrop } from '../../src/global/queue/maildrop.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { QUEUE_STORE } from '../../src/global/queue/service-keys.js';
import { ServiceDirectory } from '../../src/global/service/directory.js';
import { startControlServer } from '../../src/daemons/flush/flush-service.js';
import { readStoreSnapshot } from '../../src/commands/postqueue/queue-snapshot.js';
import { runTool, tempInstall, type Install } from '../sendmail/tools-harness.js';

const root = process.getuid?.() === 0;
const skip = root ? false : 'postsuper is reserved for the superuser';

async function fill(inst: Install): Promise<SegmentStore> {
  const store = await SegmentStore.open({ queueDirectory: inst.queueDir, logger: new MemoryLogger('t') });
  const add = (id: string, rcpt: string): Promise<void> =>
    store.enqueue(
      {
        queueId: id,
        arrivalTime: Date.now(),
        sender: 's@example.com',
        recipients: [{ address: rcpt, original: rcpt }],
      },
      Buffer.from(`Subject: ${id}\r\n\r\nbody\r\n`),
    );
  await add('AAAAAAAAA1', 'a@example.org');
  await add('BBBBBBBBB2', 'b@example.org');
  await add('CCCCCCCCC3', 'c@example.org');
  await add('DDDDDDDDD4', 'd@example.org');
  await store.setState('BBBBBBBBB2', 'deferred', { nextAttempt: Date.now() + 3_600_000 });
  await store.setState('CCCCCCCCC3', 'deferred', { nextAttempt: Date.now() + 3_600_000 });
  return store;
}

async function states(inst: Install): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readStoreSnapshot(inst.queueDir)) out[e.message.queueId] = e.message.state;
  return out;
}

test('mail system down: postsuper works on the store under its lock', { skip }, async () => {
  const inst = await tempInstall();
  try {
    await (await fill(inst)).close();
    let r = await runTool(inst, 'postsuper', ['-h', 'AAAAAAAAA1', '-h', 'BBBBBBBBB2']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stderr,
      'postsuper: AAAAAAAAA1: placed on hold\npostsuper: BBBBBBBBB2: placed on hold\npostsuper: Placed on hold: 2 messages\n',
    );
    r = await runTool(inst, 'postsuper', ['-H', 'ALL']);
    assert.equal(r.stderr.split('\n').at(-2), 'postsuper: Released from hold: 2 messages');
    assert.deepEqual(await states(inst), {
      AAAAAAAAA1: 'deferred',
      BBBBBBBBB2: 'deferred',
      CCCCCCCCC3: 'deferred',
      DDDDDDDDD4: 'incoming',
    });
    r = await runTool(inst, 'postsuper', ['-d', 'ALL', 'incoming']);
    assert.equal(r.stderr, 'postsuper: DDDDDDDDD4: removed\npostsuper: Deleted: 1 message\n');
    r = await runTool(inst, 'postsuper', ['-d', '-'], 'BBBBBBBBB2\nNOSUCHID99\nCCCCCCCCC3\n');
    assert.match(r.stderr, /postsuper: Deleted: 2 messages\n$/);
    r = await runTool(inst, 'postsuper', ['-r', 'AAAAAAAAA1']);
    assert.equal(r.stderr, 'postsuper: AAAAAAAAA1: requeued\npostsuper: Requeued: 1 message\n');
    assert.deepEqual(await states(inst), {});
    const [drop] = await listMaildrop(inst.queueDir);
    assert.ok(drop);
    const m = await readMaildrop(inst.queueDir, drop);
    assert.deepEqual(m.envelope.recipients, ['a@example.org']);
    assert.equal(m.content.toString(), 'Subject: AAAAAAAAA1\r\n\r\nbody\r\n');
    // Files waiting in maildrop/ go only when that queue is named.
    assert.equal((await runTool(inst, 'postsuper', ['-d', 'ALL'])).stderr, '');
    r = await runTool(inst, 'postsuper', ['-d', 'ALL', 'maildrop']);
    assert.equal(r.stderr, `postsuper: ${drop}: removed\npostsuper: Deleted: 1 message\n`);
    assert.deepEqual(await listMaildrop(inst.queueDir), []);
    // Usage errors: ALL is upper case only, queue names are checked.
    assert.equal((await runTool(inst, 'postsuper', ['-d', 'all'])).status, 0);
    const bad = await runTool(inst, 'postsuper', ['-d', 'ALL', 'nosuchqueue']);
    assert.equal(bad.status, 64);
    assert.equal(bad.stderr, 'postsuper: fatal: invalid directory name: nosuchqueue\n');
  } finally {
    await inst.cleanup();
  }
});

test('mail system running: postsuper goes through private/postsuper to the live store', { skip }, async () => {
  const inst = await tempInstall();
  const store = await fill(inst);
  const directory = new ServiceDirectory();
  directory.provide(QUEUE_STORE, store);
  const log = new MemoryLogger('postfix/flush');
  const control = await startControlServer({ queueDirectory: inst.queueDir, directory, logger: log });
  try {
    // The store is locked by this process: postsuper must not (and cannot) open it itself.
    const r = await runTool(inst, 'postsuper', ['-h', 'CCCCCCCCC3', '-d', 'DDDDDDDDD4']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stderr,
      'postsuper: DDDDDDDDD4: removed\npostsuper: Deleted: 1 message\n' +
        'postsuper: CCCCCCCCC3: placed on hold\npostsuper: Placed on hold: 1 message\n',
    );
    assert.equal(store.get('CCCCCCCCC3')?.state, 'hold');
    assert.equal(store.get('DDDDDDDDD4'), undefined);
    assert.ok(log.texts().includes('DDDDDDDDD4: removed'));
    // mailq reads the live queue without the lock and sees the change.
    const q = await runTool(inst, 'postqueue', ['-p']);
    assert.match(q.stdout, /^CCCCCCCCC3! /m);
    assert.doesNotMatch(q.stdout, /DDDDDDDDD4/);
    assert.match(q.stdout, /-- 0 Kbytes in 3 Requests\.\n$/);
    // -f on held mail: force-expired and released, on the live store.
    const f = await runTool(inst, 'postsuper', ['-f', 'CCCCCCCCC3']);
    assert.equal(
      f.stderr,
      'postsuper: CCCCCCCCC3: expired\npostsuper: CCCCCCCCC3: released from hold\npostsuper: Force-expired: 1 message\n',
    );
    assert.equal(store.get('CCCCCCCCC3')?.state, 'deferred');
    assert.equal(store.get('CCCCCCCCC3')?.expired, true);
  } finally {
    await control.close();
    await store.close();
    await inst.cleanup();
  }
});

test('postsuper refuses to run for other users', { skip: root ? 'running as root' : false }, async () => {
  const inst = await tempInstall();
  try {
    const r = await runTool(inst, 'postsuper', ['-d', 'ALL']);
    assert.equal(r.status, 77);
    assert.equal(r.stderr, 'postsuper: fatal: Use of this command is reserved for the superuser\n');
  } finally {
    await inst.cleanup();
  }
});

test('postsuper -e and -f force-expire; -f also releases held mail; the flag survives a reopen', { skip }, async () => {
  const inst = await tempInstall();
  try {
    const store = await fill(inst);
    await store.setState('AAAAAAAAA1', 'hold');
    await store.close();
    let r = await runTool(inst, 'postsuper', ['-e', 'AAAAAAAAA1', '-e', 'BBBBBBBBB2']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stderr,
      'postsuper: AAAAAAAAA1: expired\npostsuper: BBBBBBBBB2: expired\npostsuper: Force-expired: 2 messages\n',
    );
    const snap = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for (const e of await readStoreSnapshot(inst.queueDir))
        out[e.message.queueId] = `${e.message.state}${e.message.expired === true ? '+expired' : ''}`;
      return out;
    };
    // -e leaves held mail on hold.
    assert.deepEqual(await snap(), {
      AAAAAAAAA1: 'hold+expired',
      BBBBBBBBB2: 'deferred+expired',
      CCCCCCCCC3: 'deferred',
      DDDDDDDDD4: 'incoming',
    });
    r = await runTool(inst, 'postsuper', ['-f', 'AAAAAAAAA1', '-f', 'DDDDDDDDD4']);
    assert.equal(
      r.stderr,
      'postsuper: AAAAAAAAA1: expired\npostsuper: AAAAAAAAA1: released from hold\n' +
        'postsuper: DDDDDDDDD4: expired\npostsuper: Force-expired: 2 messages\n',
    );
    r = await runTool(inst, 'postsuper', ['-e', 'ALL', 'deferred']);
    assert.match(r.stderr, /postsuper: Force-expired: 3 messages\n$/);
    assert.deepEqual(await snap(), {
      AAAAAAAAA1: 'deferred+expired',
      BBBBBBBBB2: 'deferred+expired',
      CCCCCCCCC3: 'deferred+expired',
      DDDDDDDDD4: 'incoming+expired',
    });
    // ALL only in upper case: `all` is a queue ID that matches nothing.
    r = await runTool(inst, 'postsuper', ['-e', 'all']);
    assert.equal(r.status, 0);
    assert.equal(r.stderr, '');
  } finally {
    await inst.cleanup();
  }
});

test('postsuper -r as root with the mail system down gives the maildrop copy to mail_owner', { skip }, async () => {
  const nobody = getpw('nobody');
  if (!nobody) return;
  const inst = await tempInstall('mail_owner = nobody\n');
  try {
    await (await fill(inst)).close();
    const r = await runTool(inst, 'postsuper', ['-r', 'AAAAAAAAA1']);
    assert.equal(r.stderr, 'postsuper: AAAAAAAAA1: requeued\npostsuper: Requeued: 1 message\n');
    const [drop] = await listMaildrop(inst.queueDir);
    assert.equal((await stat(join(inst.queueDir, 'maildrop', drop ?? ''))).uid, nobody.uid);
  } finally {
    await inst.cleanup();
  }
});
