// non_smtpd_milters in cleanup(8): mail from sendmail/pickup is shown to a
// real milter (an emulated SMTP session from localhost) and its edits are
// stored; a milter refusal refuses the submission; smtpd's envelope edits
// (changed sender, deleted recipients) are applied before rewriting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import type { CleanupOpenRequest, CleanupPolicyActions, CleanupVerdict } from '../../src/global/queue/cleanup-api.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import { readAll, tempQueueDir } from '../queue/helpers.js';
import { milterSkip, startMilter } from './harness.js';

async function withCleanup(
  mainCf: string,
  fn: (
    submit: (
      req: Partial<CleanupOpenRequest>,
      rcpts: string[],
      text: string,
      actions?: CleanupPolicyActions,
    ) => Promise<CleanupVerdict>,
    store: SegmentStore,
    log: MemoryLogger,
  ) => Promise<void>,
): Promise<void> {
  const { dir, cleanup } = await tempQueueDir();
  const log = new MemoryLogger('postfix/cleanup');
  const store = await SegmentStore.open({ queueDirectory: dir, logger: log });
  const config = Config.fromText(`myhostname = mx.example.net\nmydomain = example.net\n${mainCf}\n`);
  const server = new CleanupServer({ store, config, logger: log });
  try {
    await fn(
      async (req, rcpts, text, actions) => {
        const tx = await server.open({ origin: 'sendmail', sender: 'alice@example.net', ...req });
        for (const r of rcpts) tx.addRecipient({ address: r });
        tx.write(Buffer.from(text.replace(/\r?\n/g, '\r\n')));
        return tx.commit(actions);
      },
      store,
      log,
    );
  } finally {
    await store.close();
    await cleanup();
  }
}

test('non_smtpd_milters see local mail and their edits are stored', { skip: milterSkip }, async () => {
  const m = await startMilter('addheader=local', 'addrcpt=carol@example.net', 'delrcpt=bob@example.net');
  try {
    await withCleanup(`non_smtpd_milters = ${m.spec}`, async (submit, store) => {
      const v = await submit({}, ['bob@example.net', 'dave@example.net'], 'Subject: hi\n\nbody\n');
      assert.equal(v.status, 'queued', JSON.stringify(v));
      if (v.status !== 'queued') return;
      const msg = store.get(v.queueId);
      assert.deepEqual(
        msg?.recipients.map((r) => r.address),
        ['dave@example.net', 'carol@example.net'],
      );
      const text = (await readAll(store.openContent(v.queueId))).toString();
      assert.match(text, /X-Milter: local\r\n/);
      const ev = await m.waitFor('close');
      const connect = ev.find((e) => e.event === 'connect');
      assert.equal(connect?.['hostname'], 'localhost');
      assert.equal(ev.find((e) => e.event === 'helo')?.['name'], 'localhost');
      assert.equal(ev.find((e) => e.event === 'mail')?.['sender'], 'alice@example.net');
    });
  } finally {
    await m.stop();
  }
});

test(
  'a non_smtpd milter refusal refuses the submission; smtpd mail is not shown to them',
  { skip: milterSkip },
  async () => {
    const m = await startMilter('reject-eom');
    try {
      await withCleanup(`non_smtpd_milters = ${m.spec}`, async (submit, _store, log) => {
        const v = await submit({ origin: 'pickup' }, ['bob@example.net'], 'Subject: hi\n\nbody\n');
        assert.equal(v.status, 'rejected');
        if (v.status === 'rejected')
          assert.deepEqual(v.reply, { code: 554, dsn: '5.7.1', text: 'message refused by milter' });
        assert.ok(
          log
            .texts()
            .some((l) =>
              /^\w+: milter-reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: 5\.7\.1 message refused by milter; from=<alice@example\.net> to=<bob@example\.net>$/.test(
                l,
              ),
            ),
          log.texts().join('\n'),
        );
        const smtp = await submit({ origin: 'smtpd' }, ['bob@example.net'], 'Subject: hi\n\nbody\n');
        assert.equal(smtp.status, 'queued');
      });
    } finally {
      await m.stop();
    }
  },
);

test("smtpd's milter edits: new sender, deleted recipient (before rewriting)", async () => {
  await withCleanup('', async (submit, store) => {
    const v = await submit({ origin: 'smtpd' }, ['bob@example.net', 'dave@example.net'], 'Subject: hi\n\nbody\n', {
      milter: { sender: 'bounces@example.net', deleteRecipients: ['bob@example.net'] },
    });
    assert.equal(v.status, 'queued');
    if (v.status !== 'queued') return;
    const msg = store.get(v.queueId);
    assert.equal(msg?.sender, 'bounces@example.net');
    assert.deepEqual(
      msg?.recipients.map((r) => r.address),
      ['dave@example.net'],
    );
  });
});
