// The smtpd worker ↔ core link over a real socket pair, with the real
// cleanup service and on-disk queue store behind it: a transaction opens
// with a reserved queue ID and no round trip, multi-frame content arrives
// intact, refusals and failures come back as such, an abort before any
// content stores nothing, and a link that drops mid-message leaves nothing
// half-queued. ETRN reaches the flusher.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import type { CleanupService } from '../../src/global/queue/cleanup-api.js';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import { CleanupLink } from '../../src/daemons/smtpd-worker/cleanup-link.js';
import { serveSmtpdLink } from '../../src/daemons/smtpd-worker/core-link-server.js';
import { socketPair } from '../../src/daemons/master/socket-pair.js';
import { readAll, tempQueueDir } from '../queue/helpers.js';

interface Rig {
  link: CleanupLink;
  store: SegmentStore;
  coreLog: MemoryLogger;
  flushed: (string | undefined)[];
  /** Queue IDs of core-side transactions that were aborted. */
  aborted: string[];
  smtpdEnd: Socket;
  coreEnd: Socket;
  done(): Promise<void>;
}

async function rig(mainCf = ''): Promise<Rig> {
  const { dir, cleanup } = await tempQueueDir();
  const coreLog = new MemoryLogger('postfix/cleanup');
  const store = await SegmentStore.open({ queueDirectory: dir, logger: coreLog });
  const config = Config.fromText(`myhostname = mx.example.net\nmydomain = example.net\n${mainCf}`);
  const server = new CleanupServer({ store, config, logger: coreLog });
  const [smtpdEnd, coreEnd] = await socketPair();
  const flushed: (string | undefined)[] = [];
  const aborted: string[] = [];
  const watched: CleanupService = {
    async open(q) {
      const tx = await server.open(q);
      return {
        queueId: tx.queueId,
        addRecipient: (x) => tx.addRecipient(x),
        write: (b) => tx.write(b),
        commit: (a) => tx.commit(a),
        abort: () => {
          aborted.push(tx.queueId);
          return tx.abort();
        },
      };
    },
    reserveQueueIds: (n) => server.reserveQueueIds(n),
    releaseQueueIds: (ids) => server.releaseQueueIds(ids),
  };
  serveSmtpdLink(coreEnd, {
    cleanup: () => watched,
    flusher: () => ({ flush: (s) => flushed.push(s) }),
    log: coreLog,
    verify: () => undefined,
  });
  const link = new CleanupLink(new MemoryLogger('postfix/smtpd'));
  link.setChannel(smtpdEnd);
  return {
    link,
    store,
    coreLog,
    flushed,
    aborted,
    smtpdEnd,
    coreEnd,
    async done() {
      link.close();
      coreEnd.destroy();
      await store.close();
      await cleanup();
    },
  };
}

const client = { name: 'unknown', reverseName: 'unknown', addr: '192.0.2.7', port: 4000, helo: 'c', protocol: 'ESMTP' };
const req = { origin: 'smtpd' as const, sender: 'alice@example.com', client, service: 'smtp' };

async function until(what: () => boolean, ms = 5000): Promise<void> {
  for (let waited = 0; !what(); waited += 10) {
    if (waited > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a message crosses the link: reserved queue ID at open, content in several frames, durable verdict', async () => {
  const r = await rig();
  try {
    const tx = await r.link.open(req);
    assert.match(tx.queueId, /^[0-9A-F]{6,}$/);
    tx.addRecipient({ address: 'bob@example.org' });
    tx.addRecipient({ address: 'carol@example.org', notify: ['FAILURE'] });
    const body: string[] = ['Subject: big\r\n', '\r\n'];
    for (let i = 0; i < 3000; i++) body.push(`line ${i} ${'x'.repeat(60)}\r\n`); // ~200 KiB: several DATA frames
    for (const l of body) tx.write(Buffer.from(l));
    const v = await tx.commit();
    assert.deepEqual(v, { status: 'queued', queueId: tx.queueId });
    const m = r.store.get(tx.queueId);
    assert.deepEqual(
      m?.recipients.map((x) => x.address),
      ['bob@example.org', 'carol@example.org'],
    );
    const stored = (await readAll(r.store.openContent(tx.queueId))).toString('latin1');
    assert.ok(stored.includes(body.slice(2).join('')), 'content arrives whole and in order');

    // the next transactions get other IDs without waiting for the core
    const ids = new Set<string>([tx.queueId]);
    for (let i = 0; i < 100; i++) {
      const t = await r.link.open(req);
      assert.ok(!ids.has(t.queueId), 'queue IDs are not reused');
      ids.add(t.queueId);
      await t.abort();
    }
  } finally {
    await r.done();
  }
});

test('refusals and policy actions travel: message_size_limit rejects, DISCARD discards', async () => {
  const r = await rig('message_size_limit = 1000');
  try {
    const big = await r.link.open(req);
    big.addRecipient({ address: 'bob@example.org' });
    big.write(Buffer.from(`Subject: x\r\n\r\n${'y'.repeat(2000)}\r\n`));
    const v = await big.commit();
    assert.equal(v.status, 'rejected');
    assert.equal(v.status === 'rejected' ? v.reply.code : 0, 552);
    assert.equal(r.store.get(big.queueId), undefined);

    const dropped = await r.link.open(req);
    dropped.addRecipient({ address: 'bob@example.org' });
    dropped.write(Buffer.from('Subject: x\r\n\r\nhi\r\n'));
    assert.deepEqual(await dropped.commit({ discard: true }), { status: 'discarded', queueId: dropped.queueId });
    assert.equal(r.store.get(dropped.queueId), undefined);
  } finally {
    await r.done();
  }
});

test('a link that drops mid-message: the smtpd side fails the commit, the core stores nothing', async () => {
  const r = await rig();
  try {
    const tx = await r.link.open(req);
    tx.addRecipient({ address: 'bob@example.org' });
    for (let i = 0; i < 2000; i++) tx.write(Buffer.from(`line ${i} ${'z'.repeat(60)}\r\n`)); // > 64 KiB: content reached the core
    await new Promise((res) => setTimeout(res, 50));
    r.smtpdEnd.destroy();
    await until(() => r.coreEnd.destroyed);
    await assert.rejects(tx.commit(), /cleanup channel closed/);
    await assert.rejects(r.link.open(req), /not connected/);
    await until(() => r.aborted.length === 1);
    assert.deepEqual(r.aborted, [tx.queueId], 'the core aborted its side of the open transaction');
    assert.equal([...r.store.list()].length, 0, 'nothing half-queued');
  } finally {
    await r.done();
  }
});

test('ETRN reaches the flusher; a malformed frame closes the link with a warning', async () => {
  const r = await rig();
  try {
    r.link.flush('example.org');
    r.link.flush();
    await until(() => r.flushed.length === 2);
    assert.deepEqual(r.flushed, ['example.org', undefined]);
    // BEGIN with a queue ID the core never handed out fails that transaction only
    const bogus = Buffer.from(JSON.stringify({ req: { ...req, queueId: 'ABCDEF123' }, rcpts: [] }));
    const head = Buffer.alloc(9);
    head.writeUInt32BE(bogus.length + 5, 0);
    head.writeUInt8(1, 4);
    head.writeUInt32BE(999, 5);
    r.smtpdEnd.write(Buffer.concat([head, bogus]));
    const tx = await r.link.open(req);
    tx.addRecipient({ address: 'bob@example.org' });
    tx.write(Buffer.from('Subject: ok\r\n\r\nok\r\n'));
    assert.equal((await tx.commit()).status, 'queued');
    // a frame type nobody knows: the core gives up on the link
    head.writeUInt32BE(5, 0);
    head.writeUInt8(99, 4);
    r.smtpdEnd.write(head);
    await until(() => r.coreEnd.destroyed);
    assert.match(r.coreLog.texts().join('\n'), /smtpd channel: unexpected frame type 99; closing the channel/);
  } finally {
    await r.done();
  }
});
