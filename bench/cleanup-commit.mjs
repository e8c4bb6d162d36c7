// The whole cleanup(8) path (header pass + durable store) for N concurrent
// sources, as smtpd drives it: open, add a recipient, write, commit.
// Usage: node bench/cleanup-commit.mjs [writers=20] [messages=5000] [bytes=1024] [dir]
// (build first: npm run build). Prints commits/s and syncs/message.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '../dist/src/global/log/memory-logger.js';
import { Config } from '../dist/src/global/params/config.js';
import { SegmentStore } from '../dist/src/global/queue/segment-store.js';
import { CleanupServer } from '../dist/src/daemons/cleanup/cleanup-service.js';

const writers = Number(process.argv[2] ?? 20);
const total = Number(process.argv[3] ?? 5000);
const bytes = Number(process.argv[4] ?? 1024);
const dir = await mkdtemp(join(process.argv[5] ?? tmpdir(), 'postern-bench-'));
// A logger that drops lines: the bench measures cleanup, not log buffering.
const quiet = { tag: 'postfix/cleanup', info() {}, warning() {}, error() {}, fatal(t) { throw new Error(t); }, panic(t) { throw new Error(t); }, child() { return quiet; } };
const store = await SegmentStore.open({ queueDirectory: dir, logger: new MemoryLogger() });
const server = new CleanupServer({ store, config: Config.fromText('myhostname = bench.example\n'), logger: quiet });
const body = Buffer.from(
  `Received: from client (localhost [127.0.0.1])\r\nFrom: a@example.com\r\nTo: b@example.org\r\nSubject: bench\r\n` +
    `Message-ID: <x@example.com>\r\n\r\n${'x'.repeat(Math.max(0, bytes - 140))}\r\n`,
);
const client = { name: 'localhost', reverseName: 'localhost', addr: '203.0.113.1', port: 1, helo: 'client', protocol: 'ESMTP' };
let started = 0;
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
await Promise.all(
  Array.from({ length: writers }, async () => {
    while (started < total) {
      started++;
      const tx = await server.open({ origin: 'smtpd', sender: 'a@example.com', client });
      tx.addRecipient({ address: 'b@example.org' });
      tx.write(body);
      const v = await tx.commit();
      if (v.status !== 'queued') throw new Error(JSON.stringify(v));
    }
  }),
);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
const st = store.stats();
await store.close();
await rm(dir, { recursive: true, force: true });
console.log(
  `cleanup: writers=${writers} messages=${total} size=${body.length}B: ${(total / secs).toFixed(0)} durable commits/s, ` +
    `${(st.syncs / total).toFixed(3)} syncs/message, ${((cpu.user + cpu.system) / 1000 / total).toFixed(3)} ms CPU/message`,
);
