// smtpd's access-policy actions handed to cleanup(8) in the open request
// (HOLD, DISCARD, FILTER, REDIRECT, BCC): what ends up in the queue file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import type { CleanupOpenRequest, CleanupPolicyActions, CleanupVerdict } from '../../src/global/queue/cleanup-api.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import { tempQueueDir } from '../queue/helpers.js';

async function withCleanup(
  fn: (
    submit: (req: Partial<CleanupOpenRequest>, rcpts: string[], late?: CleanupPolicyActions) => Promise<CleanupVerdict>,
    store: SegmentStore,
  ) => Promise<void>,
): Promise<void> {
  const { dir, cleanup } = await tempQueueDir();
  const log = new MemoryLogger('postfix/cleanup');
  const store = await SegmentStore.open({ queueDirectory: dir, logger: log });
  const config = Config.fromText('myhostname = mx.example.net\nmydomain = example.net\n');
  const server = new CleanupServer({ store, config, logger: log });
  try {
    await fn(async (req, rcpts, late) => {
      const tx = await server.open({ origin: 'smtpd', sender: 'alice@example.com', ...req });
      for (const r of rcpts) tx.addRecipient({ address: r });
      tx.write(Buffer.from('Subject: t\r\n\r\nbody\r\n'));
      return tx.commit(late);
    }, store);
  } finally {
    await store.close();
    await cleanup();
  }
}

test('HOLD puts the message on hold; FILTER is stored with it', async () => {
  await withCleanup(async (submit, store) => {
    const v = await submit({ filter: 'smtp:[127.0.0.1]:10025' }, ['bob@example.org'], { hold: true });
    assert.equal(v.status, 'queued');
    const m = v.status === 'queued' ? store.get(v.queueId) : undefined;
    assert.equal(m?.state, 'hold');
    assert.equal(m?.filter, 'smtp:[127.0.0.1]:10025');
  });
});

test('REDIRECT replaces every recipient (originals kept); BCC adds one', async () => {
  await withCleanup(async (submit, store) => {
    const v = await submit({ redirect: 'spam@example.net', bcc: ['audit@example.net'] }, [
      'a@x.example',
      'b@y.example',
    ]);
    const m = v.status === 'queued' ? store.get(v.queueId) : undefined;
    assert.equal(m?.state, 'incoming');
    assert.deepEqual(
      m?.recipients.map((r) => [r.address, r.original]),
      [
        ['spam@example.net', 'a@x.example'],
        ['spam@example.net', 'b@y.example'],
        ['audit@example.net', 'audit@example.net'],
      ],
    );
  });
});

test('DISCARD: accepted, nothing stored', async () => {
  await withCleanup(async (submit, store) => {
    const v = await submit({}, ['bob@example.org'], { discard: true });
    assert.equal(v.status, 'discarded');
    assert.equal([...store.list()].length, 0);
  });
});
