// maildrop: postdrop's one-file-per-message queue and pickup's reader; plus
// opening the store from main.cf (long queue IDs, queue_minfree).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import {
  listMaildrop,
  MaildropError,
  quarantineMaildrop,
  readMaildrop,
  removeMaildrop,
  writeMaildrop,
} from '../../src/global/queue/maildrop.js';
import { openQueueStore } from '../../src/global/queue/open-store.js';
import { newMessage, selfCheckingContent, tempQueueDir } from './helpers.js';

test('maildrop files round-trip; damaged ones are detected and quarantined', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const env = {
      sender: 'bob',
      recipients: ['carol', 'dave@example.org'],
      arrivalTime: 1_700_000_000_000,
      fullName: 'Bob',
      uid: 1000,
    };
    const a = await writeMaildrop(dir, env, Buffer.from('Subject: a\r\n\r\nhello\r\n'));
    const b = await writeMaildrop(
      dir,
      { ...env, extractRecipients: true },
      Buffer.from('To: x@example.org\r\n\r\nb\r\n'),
    );
    assert.deepEqual((await listMaildrop(dir)).sort(), [a, b].sort());
    const m = await readMaildrop(dir, a);
    assert.deepEqual(m.envelope, env);
    assert.equal(m.content.toString(), 'Subject: a\r\n\r\nhello\r\n');
    assert.equal((await readMaildrop(dir, b)).envelope.extractRecipients, true);

    // Damage b: flip the last content byte.
    const path = join(dir, 'maildrop', b);
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(path);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 3) ^ 0x20, bytes.length - 3);
    await writeFile(path, bytes);
    await assert.rejects(readMaildrop(dir, b), MaildropError);
    await quarantineMaildrop(dir, b);
    assert.deepEqual(await readdir(join(dir, 'corrupt')), [b]);
    await removeMaildrop(dir, a);
    assert.deepEqual(await listMaildrop(dir), []);
    await assert.rejects(readMaildrop(dir, '../etc'), MaildropError);
  } finally {
    await cleanup();
  }
});

test('openQueueStore reads queue_directory, enable_long_queue_ids and queue_minfree', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const cfg = Config.fromText(`queue_directory = ${dir}\nenable_long_queue_ids = yes\n`);
    const store = await openQueueStore(cfg, new MemoryLogger());
    const id = store.newQueueId();
    assert.match(id, /^[0-9A-Za-z]{10}z[0-9A-Za-y]+$/);
    await store.enqueue(newMessage(id), selfCheckingContent(id));
    await store.close();
    const full = Config.fromText(`queue_directory = ${dir}\nqueue_minfree = ${Number.MAX_SAFE_INTEGER}\n`);
    const s2 = await openQueueStore(full, new MemoryLogger());
    assert.ok(s2.get(id), 'long-ID message replayed');
    const id2 = s2.newQueueId();
    assert.match(id2, /^[0-9A-F]{10,}$/);
    await assert.rejects(s2.enqueue(newMessage(id2), selfCheckingContent(id2)), { kind: 'nospace' });
    await s2.close();
  } finally {
    await cleanup();
  }
});
