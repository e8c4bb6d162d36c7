// Durability under crashes: SIGKILL during a commit loop loses nothing that was
// acknowledged; torn and damaged records are moved aside to corrupt/ and
// logged, never crash the start-up, and never hide the intact messages.
import { test } from 'node:test';
import { LAZY } from '../../src/global/queue/store-api.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentIsIntact, newMessage, openStore, readAll, selfCheckingContent, tempQueueDir } from './helpers.js';

const child = fileURLToPath(new URL('./fixtures/commit-loop-child.js', import.meta.url));
const churn = fileURLToPath(new URL('./fixtures/churn-child.js', import.meta.url));

test('kill -9 while committing: every acknowledged message is present and intact', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    for (let round = 0; round < 2; round++) {
      const acked: string[] = [];
      const proc = spawn(process.execPath, [child, dir, '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let buffer = '';
      const killAt = round === 0 ? 150 : 60;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          proc.kill('SIGKILL');
          reject(new Error('child did not produce enough commits in time'));
        }, 60_000);
        proc.stdout.on('data', (d: Buffer) => {
          buffer += d.toString();
          const lines = buffer.split('\n');
          buffer = lines.pop() ?? '';
          for (const l of lines) if (l && l !== 'DONE') acked.push(l);
          if (acked.length >= killAt && proc.exitCode === null && !proc.killed) proc.kill('SIGKILL');
        });
        proc.on('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      assert.ok(acked.length >= killAt);
      const { store } = await openStore(dir);
      try {
        for (const id of acked) {
          const m = store.get(id);
          assert.ok(m, `acknowledged ${id} is in the queue after kill -9`);
          assert.ok(contentIsIntact(id, await readAll(store.openContent(id))), `${id} content intact`);
        }
        for (const m of store.list()) assert.equal(m.state, 'incoming');
        // Clear the queue for the next round, as delivery would.
        for (const m of [...store.list()]) await store.remove(m.queueId);
      } finally {
        await store.close();
      }
    }
  } finally {
    await cleanup();
  }
});

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'segments'))).filter((n) => /^\d{8}$/.test(n)).sort();
}

test('a torn final record is set aside and truncated; the messages before it survive', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = store.newQueueId();
      await store.enqueue(newMessage(id), selfCheckingContent(id));
      ids.push(id);
    }
    await store.close();
    const seg = join(dir, 'segments', (await segmentFiles(dir)).at(-1) ?? '');
    const goodSize = (await stat(seg)).size;
    // A record header promising more bytes than were written, as a crash mid-write leaves.
    const torn = Buffer.alloc(40, 0x41);
    torn.writeUInt32BE(0x51524543, 0);
    torn.writeUInt32BE(5000, 4);
    await appendFile(seg, torn);

    const { store: again, log } = await openStore(dir);
    try {
      for (const id of ids) assert.ok(contentIsIntact(id, await readAll(again.openContent(id))));
      assert.equal((await stat(seg)).size, goodSize, 'torn tail truncated');
      const saved = await readdir(join(dir, 'corrupt'));
      assert.equal(saved.length, 1);
      assert.ok((await readFile(join(dir, 'corrupt', saved[0] ?? ''))).equals(torn));
      assert.ok(log.texts().some((t) => t.startsWith('warning: queue segment') && t.includes('torn final record')));
      // The store keeps working after recovery.
      const id = again.newQueueId();
      await again.enqueue(newMessage(id), selfCheckingContent(id));
    } finally {
      await again.close();
    }
  } finally {
    await cleanup();
  }
});

test('a damaged record in the middle is moved aside; later records are still replayed', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = store.newQueueId();
      await store.enqueue(newMessage(id), selfCheckingContent(id));
      ids.push(id);
    }
    await store.setState(ids[2] ?? '', 'hold');
    await store.close();
    const seg = join(dir, 'segments', (await segmentFiles(dir)).at(-1) ?? '');
    const bytes = await readFile(seg);
    const victim = bytes.indexOf(`Subject: ${ids[1]}`);
    assert.ok(victim > 0);
    bytes.writeUInt8(bytes.readUInt8(victim + 3) ^ 0xff, victim + 3); // flip bits inside the second message
    await writeFile(seg, bytes);

    const { store: again, log } = await openStore(dir);
    try {
      assert.ok(again.get(ids[0] ?? ''));
      assert.equal(again.get(ids[1] ?? ''), undefined, 'the damaged message is not served');
      assert.equal(again.get(ids[2] ?? '')?.state, 'hold', 'records after the damage still apply');
      assert.ok(contentIsIntact(ids[2] ?? '', await readAll(again.openContent(ids[2] ?? ''))));
      const saved = await readdir(join(dir, 'corrupt'));
      assert.equal(saved.length, 1);
      assert.ok((await readFile(join(dir, 'corrupt', saved[0] ?? ''))).includes(ids[1] ?? '-'));
      assert.ok(log.texts().some((t) => t.includes('checksum')));
    } finally {
      await again.close();
    }
  } finally {
    await cleanup();
  }
});

test('group commit: many concurrent commits share few syncs', async (t) => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir);
    const before = store.stats().syncs;
    const n = 200;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let i = 0; i < n / 20; i++) {
          const id = store.newQueueId();
          await store.enqueue(newMessage(id), selfCheckingContent(id, 1024));
        }
      }),
    );
    const syncs = store.stats().syncs - before;
    t.diagnostic(`${n} commits from 20 writers used ${syncs} syncs (${(syncs / n).toFixed(3)} per message)`);
    assert.equal([...store.list()].length, n);
    // With 20 writers waiting, each sync must cover several of them.
    assert.ok(syncs < n / 2, `${syncs} syncs for ${n} messages`);
    await store.close();
  } finally {
    await cleanup();
  }
});

test('a damaged segment header is rewritten from the file name; its records are kept', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(dir);
    const id = store.newQueueId();
    await store.enqueue(newMessage(id), selfCheckingContent(id));
    await store.close();
    const seg = join(dir, 'segments', (await segmentFiles(dir)).at(-1) ?? '');
    const bytes = await readFile(seg);
    bytes.write('XXXX', 0, 'latin1');
    await writeFile(seg, bytes);
    const { store: again, log } = await openStore(dir);
    try {
      assert.ok(contentIsIntact(id, await readAll(again.openContent(id))));
      assert.ok(log.texts().some((t) => t.includes('bad segment header')));
      assert.equal((await readFile(seg)).subarray(0, 8).toString('latin1'), 'PSTRNSEG');
    } finally {
      await again.close();
    }
  } finally {
    await cleanup();
  }
});

test('the store lock holds across processes: a live owner is refused', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const proc = spawn(process.execPath, [child, dir, '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('child did not start in time')), 30_000);
      let out = '';
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('DONE')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await assert.rejects(openStore(dir), new RegExp(`locked by process ${proc.pid}`));
  } finally {
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    await cleanup();
  }
});

test('kill -9 while segments are reclaimed and relocated: kept mail intact, removed mail stays removed', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const keep = new Set<string>();
    const gone = new Set<string>();
    const proc = spawn(process.execPath, [churn, dir, '400'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error('child did not make progress in time'));
      }, 60_000);
      proc.stdout.on('data', (d: Buffer) => {
        buffer += d.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const l of lines) {
          const [what, id] = l.split(' ');
          if (what === 'KEEP' && id) keep.add(id);
          if (what === 'GONE' && id) gone.add(id);
        }
        if (keep.size + gone.size >= 250 && !proc.killed) proc.kill('SIGKILL');
      });
      proc.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const { store } = await openStore(dir, { segmentSize: 16 * 1024 });
    try {
      for (const id of keep) {
        assert.equal(store.get(id)?.state, 'deferred', `kept ${id} present and deferred`);
        assert.ok(contentIsIntact(id, await readAll(store.openContent(id))));
      }
      for (const id of gone) assert.equal(store.get(id), undefined, `removed ${id} did not come back`);
      // Segment numbers only grow; fewer files than numbers used means reclamation ran.
      const segs = await segmentFiles(dir);
      const highest = Number.parseInt(segs.at(-1) ?? '0', 10);
      assert.ok(segs.length < highest / 2, `segments reclaimed: ${segs.length} files, highest number ${highest}`);
    } finally {
      await store.close();
    }
  } finally {
    await cleanup();
  }
});

test('lazy bookkeeping: no sync of its own, written at once, synced by the next durable write and by close', async (t) => {
  const { dir, cleanup } = await tempQueueDir();
  t.after(cleanup);
  const { store } = await openStore(dir);
  const ids = [store.newQueueId(), store.newQueueId(), store.newQueueId()] as const;
  for (const id of ids)
    await store.enqueue(newMessage(id, ['a@example.org', 'b@example.org']), selfCheckingContent(id));
  const before = store.stats().syncs;
  await store.setState(ids[0], 'active', LAZY);
  await store.recordOutcomes(ids[0], [{ index: 0, status: 'sent', dsn: '2.0.0', relay: 'x', reason: 'ok' }], LAZY);
  await store.setState(ids[0], 'deferred', { nextAttempt: 777, ...LAZY });
  await store.remove(ids[1], LAZY);
  assert.equal(store.stats().syncs, before, 'lazy records ask for no sync');
  // A durable change (postsuper -h) syncs, covering what was written before it.
  await store.setState(ids[2], 'hold');
  assert.equal(store.stats().syncs, before + 1);
  await store.remove(ids[2], LAZY);
  await store.close();

  const { store: again } = await openStore(dir);
  try {
    const m = again.get(ids[0]);
    assert.equal(m?.state, 'deferred');
    assert.equal(m?.nextAttempt, 777);
    assert.deepEqual(
      m?.recipients.map((r) => r.done === true),
      [true, false],
    );
    assert.equal(again.get(ids[1]), undefined);
    assert.equal(again.get(ids[2]), undefined, 'the last lazy removal was synced at close');
  } finally {
    await again.close();
  }
});
