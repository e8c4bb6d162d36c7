// Maildir writes to one mailbox share their syncs (local/maildir-batch.ts and
// the helper's `maildirs` request): the writer never has more than the
// destination's limit of helper requests in flight per mailbox, what queues
// behind them goes as one batch, each delivery gets its own answer, a
// delivery given up before its write starts is not written, and the helper
// writes, syncs and links every file of a batch (a bad one fails alone; a
// cut-short stream writes nothing). End to end, deliveries sent ahead to one
// user through the delivery process's gate all land in new/ as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, readdir, readFile, rm } from 'node:fs/promises';
import {
  MaildirBatcher,
  type BatchItem,
  type BatchResult,
  type WriteSlot,
} from '../../src/daemons/local/maildir-batch.js';
import { encodeRequest } from '../../src/daemons/local/helper-pool.js';
import { resetHelperPool } from '../../src/daemons/local/mail-writer.js';
import { createLocalAgent } from '../../src/daemons/local/local.js';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { DeliveryLink, type CoreCallbacks } from '../../src/daemons/delivery/core-link.js';
import { DeliveryServer } from '../../src/daemons/delivery/delivery-server.js';
import { DestinationGate, gatePolicy } from '../../src/daemons/delivery/destination-gate.js';
import { socketPair } from '../../src/daemons/master/socket-pair.js';
import { ensureUser, openDir, request, MESSAGE, serveRaw, skipReason } from './harness.js';

const skip = skipReason();
const WHO = { ok: true as const, uid: 1234, gid: 1234 };

/** A slot that counts how it was used. */
function slot(limit: number, abandoned = false): WriteSlot & { released: number; reclaimed: number } {
  return {
    limit,
    released: 0,
    reclaimed: 0,
    release() {
      this.released++;
    },
    reclaim() {
      this.reclaimed++;
      return Promise.resolve();
    },
    abandoned: () => abandoned,
  };
}

/** A batch runner whose requests stay open until the test finishes them. */
function heldRunner() {
  const calls: { items: BatchItem[]; finish: (r?: BatchResult[]) => void }[] = [];
  let inFlight = 0;
  let most = 0;
  const run = (_w: unknown, _b: string, _l: number, items: BatchItem[]): Promise<BatchResult[]> => {
    inFlight++;
    most = Math.max(most, inFlight);
    return new Promise((resolve) =>
      calls.push({
        items,
        finish: (r) => {
          inFlight--;
          resolve(r ?? items.map(() => ({ ok: true })));
        },
      }),
    );
  };
  return { calls, run, most: () => most };
}

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !pred(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(pred(), `timed out waiting for ${what}`);
}

const item = (n: number): BatchItem => ({ unique: `u${n}`, data: Buffer.from(`m${n}`) });

test('a lone write goes at once; writes queued behind a busy writer go as one batch, within the limit', async () => {
  const r = heldRunner();
  const b = new MaildirBatcher(r.run);
  const s1 = slot(1);
  const first = b.submit(WHO, '/m/', 0, item(1), s1);
  await until(() => r.calls.length === 1, 'the first write');
  assert.deepEqual(
    r.calls[0]?.items.map((i) => i.unique),
    ['u1'],
  );
  assert.equal(s1.released, 1, 'the slot is lent out while the write waits');
  const slots = [2, 3, 4].map(() => slot(1));
  const rest = [2, 3, 4].map((n, i) => b.submit(WHO, '/m/', 0, item(n), slots[i] as WriteSlot));
  await new Promise((res) => setTimeout(res, 20));
  assert.equal(r.calls.length, 1, 'nothing more starts while the one writer is busy');
  r.calls[0]?.finish();
  assert.deepEqual(await first, { ok: true });
  assert.equal(s1.reclaimed, 1, 'the slot is taken back before the delivery reports');
  await until(() => r.calls.length === 2, 'the batch');
  assert.deepEqual(
    r.calls[1]?.items.map((i) => i.unique),
    ['u2', 'u3', 'u4'],
  );
  r.calls[1]?.finish([{ ok: true }, { ok: false, dsn: '5.2.2', reason: 'full' }, { ok: true }]);
  assert.deepEqual(await Promise.all(rest), [{ ok: true }, { ok: false, dsn: '5.2.2', reason: 'full' }, { ok: true }]);
  assert.equal(r.most(), 1, 'never two helper requests for the mailbox at once');
  assert.equal(b.load(), 0);
});

test('queued writes are shared out over the free writers; other mailboxes are not held up', async () => {
  const r = heldRunner();
  const b = new MaildirBatcher(r.run);
  const all = [1, 2, 3, 4].map((n) => b.submit(WHO, '/m/', 0, item(n), slot(2)));
  const other = b.submit(WHO, '/other/', 0, item(9), slot(2));
  await until(() => r.calls.length === 3, 'two batches for /m/ and one for /other/');
  assert.deepEqual(
    r.calls.map((c) => c.items.map((i) => i.unique)),
    [['u1', 'u2'], ['u3', 'u4'], ['u9']],
  );
  for (const c of r.calls) c.finish();
  await Promise.all([...all, other]);
  assert.equal(r.most(), 3);
});

test('a write whose delivery was given up before it started is not written; a failed helper fails each write', async () => {
  const r = heldRunner();
  const b = new MaildirBatcher(r.run);
  const first = b.submit(WHO, '/m/', 0, item(1), slot(1));
  await until(() => r.calls.length === 1, 'the first write');
  const gone = b.submit(WHO, '/m/', 0, item(2), slot(1, true));
  const kept = b.submit(WHO, '/m/', 0, item(3), slot(1));
  await new Promise((res) => setTimeout(res, 10));
  r.calls[0]?.finish();
  await first;
  assert.equal((await gone).ok, false);
  await until(() => r.calls.length === 2, 'the second write');
  assert.deepEqual(
    r.calls[1]?.items.map((i) => i.unique),
    ['u3'],
  );
  r.calls[1]?.finish([]);
  const k = await kept;
  assert.ok(!k.ok && k.dsn === '4.3.0' && /delivery helper failed/.test(k.reason), JSON.stringify(k));
});

test('a batch stays within its byte bound: big files go in separate requests', async () => {
  const r = heldRunner();
  const b = new MaildirBatcher(r.run);
  const first = b.submit(WHO, '/m/', 0, item(1), slot(1));
  await until(() => r.calls.length === 1, 'the first write');
  const big = (n: number): BatchItem => ({ unique: `big${n}`, data: Buffer.alloc(3 * 1024 * 1024) });
  const rest = [big(1), big(2), item(3)].map((i) => b.submit(WHO, '/m/', 0, i, slot(1)));
  await new Promise((res) => setTimeout(res, 10));
  for (let k = 0; k < 3; k++) {
    await until(() => r.calls.length === k + 1, `request ${k + 1}`);
    r.calls[k]?.finish();
  }
  await first;
  await Promise.all(rest);
  assert.deepEqual(
    r.calls.map((c) => c.items.map((i) => i.unique)),
    [['u1'], ['big1'], ['big2', 'u3']],
  );
});

function batchRequest(md: string, files: [string, string][], limit = '0'): Buffer {
  const args = ['maildirs', md, limit, String(files.length)];
  for (const [name, text] of files) args.push(name, String(Buffer.byteLength(text)));
  return Buffer.concat(encodeRequest(args, Buffer.from(files.map(([, text]) => text).join(''))));
}

test(
  'the helper writes a batch: every good file linked into new/ with its exact content, a bad one fails alone',
  { skip },
  async (t) => {
    const u = ensureUser('pstlocal1');
    const dir = await openDir(t, 'mdb');
    await chown(dir, u.uid, u.gid);
    const md = `${dir}/Maildir/`;
    const big = 'x'.repeat(150_000);
    const r = await serveRaw(
      u,
      batchRequest(md, [
        ['a.host', 'first\n'],
        ['.bad', 'never\n'],
        ['b.host', big],
        ['c.host', ''],
      ]),
    );
    assert.equal(r.code, 0);
    assert.deepEqual(r.responses, [{ status: 0, text: '\n4.3.0 bad unique name\n\n\n' }]);
    assert.deepEqual((await readdir(`${md}new`)).sort(), ['a.host', 'b.host', 'c.host']);
    assert.deepEqual(await readdir(`${md}tmp`), []);
    assert.equal(await readFile(`${md}new/a.host`, 'utf8'), 'first\n');
    assert.equal(await readFile(`${md}new/b.host`, 'utf8'), big);
    assert.equal(await readFile(`${md}new/c.host`, 'utf8'), '');
    // Over the size limit: that file fails 5.2.2 and is gone from tmp/; the others of the batch are delivered.
    // The limit is the batch's own: the next request to the same helper, without one, writes the big file.
    const limited = await serveRaw(
      u,
      Buffer.concat([
        batchRequest(
          md,
          [
            ['d.host', 'small\n'],
            ['e.host', big],
          ],
          '1000',
        ),
        batchRequest(md, [
          ['e2.host', big],
          ['e3.host', 'x\n'],
        ]),
      ]),
    );
    assert.deepEqual(
      limited.responses.map((x) => x.status),
      [0, 0],
    );
    assert.match(limited.responses[0]?.text ?? '', /^\n5\.2\.2 create maildir file .*e\.host: File too large\n$/);
    assert.equal(limited.responses[1]?.text, '\n\n');
    assert.equal(await readFile(`${md}new/e2.host`, 'utf8'), big);
    const before = ['a.host', 'b.host', 'c.host', 'd.host', 'e2.host', 'e3.host'];
    assert.deepEqual((await readdir(`${md}new`)).sort(), before);
    assert.deepEqual(await readdir(`${md}tmp`), []);
    // A stream cut short: nothing written, no answer, the helper exits.
    const whole = batchRequest(md, [
      ['f.host', 'one\n'],
      ['g.host', big],
    ]);
    const cut = await serveRaw(u, whole.subarray(0, whole.length - 1000));
    assert.equal(cut.code, 3);
    assert.deepEqual(cut.responses, []);
    assert.deepEqual((await readdir(`${md}new`)).sort(), before);
    assert.deepEqual(await readdir(`${md}tmp`), []);
    // Sizes that do not add up to the content length are malformed.
    const bad = Buffer.concat(
      encodeRequest(['maildirs', md, '0', '2', 'h.host', '3', 'i.host', '3'], Buffer.from('abcde')),
    );
    assert.equal((await serveRaw(u, bad)).code, 3);
  },
);

test(
  'deliveries sent ahead to one user through the gate share helper requests and all land in new/',
  { skip, timeout: 60_000 },
  async (t) => {
    const u = ensureUser('pstlocal1');
    // A maildir of this run's own in the test user's home, removed afterwards.
    const box = `.postern-test-${process.pid}-${Date.now()}/`;
    const md = `${u.home}/${box}new`;
    t.after(() => rm(`${u.home}/${box}`, { recursive: true, force: true }));
    const pool = resetHelperPool();
    t.after(() => pool.closeAll());
    const cf =
      `myhostname = mx.example.com\nmydestination = mx.example.com\nalias_maps =\nhome_mailbox = ${box}\n` +
      `forward_path =\nlocal_destination_concurrency_limit = 1\n`;
    const agent = createLocalAgent({ config: Config.fromText(cf), logger: new MemoryLogger('postfix/local') });
    const [coreEnd, deliveryEnd] = await socketPair();
    const link = new DeliveryLink();
    link.setChannel(coreEnd, new MemoryLogger());
    const gate = new DestinationGate();
    const server = new DeliveryServer(deliveryEnd, (s) => (s === 'local' ? agent : undefined), new MemoryLogger(), {
      gate,
      policy: gatePolicy(Config.fromText(cf)),
    });
    t.after(() => server.close());
    const callbacks: CoreCallbacks = {
      isLocal: () => Promise.resolve(true),
      forward: () => Promise.resolve({ status: 'sent', dsn: '2.0.0', reason: '' }),
      pass: (_t, _n, _r, rcpt) =>
        Promise.resolve({ index: rcpt.index, status: 'sent', dsn: '2.0.0', relay: '', reason: '' }),
    };
    const n = 8;
    const outcomes = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        link.deliver(
          'local',
          request({ recipients: ['pstlocal1@mx.example.com'], content: `${MESSAGE}n${i}\n` }),
          callbacks,
        ),
      ),
    );
    for (const o of outcomes)
      assert.deepEqual([o[0]?.status, o[0]?.dsn, o[0]?.reason], ['sent', '2.0.0', 'delivered to maildir']);
    const bodies = await Promise.all((await readdir(md)).map((f) => readFile(`${md}/${f}`, 'utf8')));
    assert.deepEqual(
      bodies.map((b) => /^n(\d)$/m.exec(b)?.[1]).sort(),
      ['0', '1', '2', '3', '4', '5', '6', '7'],
      'each message once, complete',
    );
    assert.deepEqual(await readdir(`${u.home}/${box}tmp`), []);
    // Fewer helper requests than deliveries: those queued behind the user's one writer went together.
    const served = pool.stats().helpers.reduce((s, h) => s + h.served, 0);
    assert.ok(served < n, `${served} helper requests for ${n} deliveries`);
    // Every slot lent out during a write was taken back and released: none is left held.
    assert.deepEqual(gate.load('local\0localhost\0pstlocal1@mx.example.com'), { running: 0, waiting: 0 });
  },
);
