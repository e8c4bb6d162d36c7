// smtputf8_autodetect_classes in cleanup(8): which mail sources get "SMTPUTF8
// requested" when their envelope or headers carry UTF-8, and what does not
// count (the body, ASCII-only mail, smtputf8_enable = no).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import type { CleanupOpenRequest, CleanupVerdict } from '../../src/global/queue/cleanup-api.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import { headersHaveUtf8 } from '../../src/daemons/smtp/utf8-headers.js';
import { tempQueueDir } from '../queue/helpers.js';

async function withCleanup(
  mainCf: string,
  body: (
    submit: (req: Partial<CleanupOpenRequest>, content: string, rcpt?: string) => Promise<boolean | undefined>,
  ) => Promise<void>,
): Promise<void> {
  const { dir, cleanup } = await tempQueueDir();
  const log = new MemoryLogger('postfix/cleanup');
  const store = await SegmentStore.open({ queueDirectory: dir, logger: log });
  const config = Config.fromText(
    `compatibility_level = 3.6\nmyhostname = mx.example.net\nmydomain = example.net\n${mainCf}`,
  );
  const server = new CleanupServer({ store, config, logger: log });
  try {
    await body(async (req, content, rcpt = 'bob@remote.test') => {
      const tx = await server.open({ origin: 'smtpd', sender: 'alice@example.com', ...req });
      tx.addRecipient({ address: rcpt });
      tx.write(Buffer.from(content.replace(/\r?\n/g, '\r\n'), 'utf8'));
      const v: CleanupVerdict = await tx.commit();
      assert.equal(v.status, 'queued', JSON.stringify(v));
      return v.status === 'queued' ? store.get(v.queueId)?.smtputf8 : undefined;
    });
  } finally {
    await store.close();
    await cleanup();
  }
}

const UTF8_SUBJECT = 'From: a@example.com\nSubject: Grüße\n\nbody\n';
const UTF8_BODY = 'From: a@example.com\nSubject: plain\n\nGrüße im Text\n';

test('default classes (sendmail, verify): sendmail mail with a UTF-8 header is flagged, smtpd mail is not', async () => {
  await withCleanup('', async (submit) => {
    assert.equal(await submit({ origin: 'pickup' }, UTF8_SUBJECT), true);
    assert.equal(await submit({ origin: 'sendmail' }, 'Subject: x\n\nb\n', 'jörg@remote.test'), true);
    assert.equal(await submit({ origin: 'sendmail', sender: 'jörg@example.com' }, 'Subject: x\n\nb\n'), true);
    // The body does not count; ASCII-only mail is left alone.
    assert.equal(await submit({ origin: 'pickup' }, UTF8_BODY), undefined);
    assert.equal(await submit({ origin: 'pickup' }, 'Subject: x\n\nb\n'), undefined);
    // smtpd is not among the default classes: the client's own declaration stands.
    assert.equal(await submit({ origin: 'smtpd' }, UTF8_SUBJECT), undefined);
    assert.equal(await submit({ origin: 'smtpd', smtputf8: true }, 'Subject: x\n\nb\n'), true);
    assert.equal(await submit({ origin: 'bounce', sender: '' }, UTF8_SUBJECT), undefined);
  });
});

test('smtputf8_autodetect_classes = smtpd, forward / all / smtputf8_enable = no', async () => {
  await withCleanup('smtputf8_autodetect_classes = smtpd, forward\n', async (submit) => {
    assert.equal(await submit({ origin: 'smtpd' }, UTF8_SUBJECT), true);
    assert.equal(await submit({ origin: 'local' }, UTF8_SUBJECT), true);
    assert.equal(await submit({ origin: 'pickup' }, UTF8_SUBJECT), undefined);
  });
  await withCleanup('smtputf8_autodetect_classes = all\n', async (submit) => {
    for (const origin of ['smtpd', 'pickup', 'bounce', 'local'] as const) {
      assert.equal(await submit({ origin, ...(origin === 'bounce' ? { sender: '' } : {}) }, UTF8_SUBJECT), true);
    }
  });
  await withCleanup('smtputf8_enable = no\nsmtputf8_autodetect_classes = all\n', async (submit) => {
    assert.equal(await submit({ origin: 'pickup' }, UTF8_SUBJECT), undefined);
  });
});

test('the smtp client finds UTF-8 in the header section only, across chunk boundaries', async () => {
  const req = (...chunks: string[]) => ({
    openContent: async function* (): AsyncIterable<Buffer> {
      for (const c of chunks) yield await Promise.resolve(Buffer.from(c, 'utf8'));
    },
  });
  assert.equal(await headersHaveUtf8(req('From: a@b\r\nSubject: Grüße\r\n\r\nbody\r\n')), true);
  assert.equal(await headersHaveUtf8(req('From: a@b\r\nSubject: x\r\n\r\nGrüße\r\n')), false);
  assert.equal(await headersHaveUtf8(req('From: a@b\r\n', '\r\n', 'Grüße\r\n')), false);
  assert.equal(await headersHaveUtf8(req('From: a@b\r\nSubject: x\r', '\n\r', '\nGrüße\r\n')), false);
  assert.equal(await headersHaveUtf8(req('From: a@b\r\nX: y\r\n\tfolded ü\r\n\r\n')), true);
  assert.equal(await headersHaveUtf8(req('\r\nGrüße\r\n')), false);
});
