// Durable commit throughput of the segment queue store: N concurrent writers
// each commit messages of a given size; prints commits/s and fdatasync calls
// per message. Usage: node bench/queue-commit.mjs [writers=20] [messages=5000] [bytes=1024] [dir]
// (build first: npm run build). Not part of the test suite: timing lives here.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '../dist/src/global/log/memory-logger.js';
import { SegmentStore } from '../dist/src/global/queue/segment-store.js';

const writers = Number(process.argv[2] ?? 20);
const total = Number(process.argv[3] ?? 5000);
const bytes = Number(process.argv[4] ?? 1024);
const base = process.argv[5] ?? tmpdir();
const dir = await mkdtemp(join(base, 'postern-bench-'));
const store = await SegmentStore.open({ queueDirectory: dir, logger: new MemoryLogger() });
const content = Buffer.from(`Subject: bench\r\n\r\n${'x'.repeat(Math.max(0, bytes - 20))}\r\n`);
let started = 0;
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
await Promise.all(
  Array.from({ length: writers }, async () => {
    while (started < total) {
      started++;
      const queueId = store.newQueueId();
      await store.enqueue(
        { queueId, arrivalTime: Date.now(), sender: 'a@example.com', recipients: [{ address: 'b@example.org', original: 'b@example.org' }] },
        content,
      );
    }
  }),
);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
const st = store.stats();
await store.close();
await rm(dir, { recursive: true, force: true });
console.log(
  `writers=${writers} messages=${total} size=${content.length}B: ${(total / secs).toFixed(0)} durable commits/s, ` +
    `${(st.syncs / total).toFixed(3)} syncs/message, ${((cpu.user + cpu.system) / 1000 / total).toFixed(3)} ms CPU/message`,
);
