// Benchmark of the smtp(8) client alone: N messages of 1 KiB, C deliveries in
// flight, to Debian's smtp-sink on loopback, through one SmtpAgent (so the
// connection cache is in play). Prints msgs/s and CPU seconds per 1,000
// messages of this process. Run after `npm run build`:
//   [CACHE=no] node bench/smtp-client.mjs [messages=2000] [concurrency=20]
import { spawn } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { SmtpAgent } from '../dist/src/daemons/smtp/agent.js';
import { Config } from '../dist/src/global/params/config.js';
import { MemoryLogger } from '../dist/src/global/log/memory-logger.js';

const N = Number(process.argv[2] ?? 2000);
const C = Number(process.argv[3] ?? 20);

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const root = process.getuid?.() === 0;
const sink = spawn('/usr/sbin/smtp-sink', [...(root ? ['-u', 'postfix'] : []), `127.0.0.1:${port}`, '100'], { stdio: 'ignore' });
for (let i = 0; i < 50; i++) {
  const ok = await new Promise((r) => {
    const c = new Socket();
    c.once('error', () => r(false));
    c.connect(port, '127.0.0.1', () => (c.destroy(), r(true)));
  });
  if (ok) break;
  await new Promise((r) => setTimeout(r, 100));
}

const body = Buffer.from(`Subject: bench\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(12), 'latin1');
const agent = new SmtpAgent({
  config: Config.fromText(`myhostname = bench.test\ninet_interfaces = 127.0.0.250\nsmtp_connection_cache_on_demand = ${process.env.CACHE ?? 'yes'}\n`),
  log: new MemoryLogger(),
  ownAddresses: new Set(),
});
let next = 0;
let sent = 0;
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
async function worker() {
  while (next < N) {
    const i = next++;
    const out = await agent.deliver({
      queueId: `B${i}`,
      transport: 'smtp',
      nexthop: `[127.0.0.1]:${port}`,
      sender: 'bench@bench.test',
      recipients: [{ address: `u${i}@sink.test`, original: `u${i}@sink.test`, index: 0 }],
      arrivalTime: Date.now(),
      size: body.length,
      openContent: async function* () {
        yield body;
      },
    });
    if (out[0]?.status === 'sent') sent++;
  }
}
await Promise.all(Array.from({ length: C }, worker));
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
await agent.close();
sink.kill();
console.log(
  `${sent}/${N} sent, ${C} in flight: ${(N / secs).toFixed(0)} msgs/s, ` +
    `${(((cpu.user + cpu.system) / 1e6 / N) * 1000).toFixed(2)} CPU s per 1,000 msgs, ` +
    `rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
);
