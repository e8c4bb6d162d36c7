// Replay must survive any damage: random bit flips, truncations and garbage
// in segment files never crash start-up, and whatever the store still serves
// after damage is byte-for-byte what was committed (checksums guarantee it).
// Seeded, bounded iterations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { contentIsIntact, newMessage, openStore, readAll, selfCheckingContent, tempQueueDir } from './helpers.js';

/** Small deterministic PRNG (mulberry32), so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('random damage to segments: start-up never fails, served content is always intact', async () => {
  const { dir: pristine, cleanup } = await tempQueueDir();
  try {
    const { store } = await openStore(pristine);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = store.newQueueId();
      await store.enqueue(newMessage(id, ['a@example.org', 'b@example.org']), selfCheckingContent(id, 300 + i * 150));
      ids.push(id);
      if (i % 3 === 0) await store.setState(id, 'deferred', { nextAttempt: i });
      if (i % 4 === 1)
        await store.recordOutcomes(id, [{ index: 0, status: 'sent', dsn: '2.0.0', relay: 'x', reason: 'ok' }]);
    }
    await store.close();
    const segName = (await readdir(join(pristine, 'segments'))).filter((n) => /^\d{8}$/.test(n))[0] ?? '';
    const original = await readFile(join(pristine, 'segments', segName));

    const rnd = prng(20261126);
    for (let round = 0; round < 25; round++) {
      const work = `${pristine}-fuzz`;
      await rm(work, { recursive: true, force: true });
      await cp(pristine, work, { recursive: true });
      await rm(join(work, 'segments', 'lock'), { force: true });
      const seg = join(work, 'segments', segName);
      const bytes = Buffer.from(original);
      const flips = 1 + Math.floor(rnd() * 6);
      for (let f = 0; f < flips; f++) {
        const at = Math.floor(rnd() * bytes.length);
        bytes.writeUInt8(bytes.readUInt8(at) ^ (1 << Math.floor(rnd() * 8)), at);
      }
      await writeFile(seg, bytes);
      if (rnd() < 0.3) await truncate(seg, Math.floor(rnd() * bytes.length));
      if (rnd() < 0.3)
        await writeFile(seg, Buffer.from(Array.from({ length: 64 }, () => Math.floor(rnd() * 256))), { flag: 'a' });

      const { store: s } = await openStore(work);
      try {
        for (const m of s.list()) {
          assert.ok(ids.includes(m.queueId), `round ${round}: unknown message ${m.queueId}`);
          assert.ok(
            contentIsIntact(m.queueId, await readAll(s.openContent(m.queueId))),
            `round ${round}: ${m.queueId}`,
          );
        }
        // The store still accepts mail after recovering from the damage.
        const id = s.newQueueId();
        await s.enqueue(newMessage(id), selfCheckingContent(id));
      } finally {
        await s.close();
      }
      await rm(work, { recursive: true, force: true });
    }
  } finally {
    await cleanup();
  }
});
