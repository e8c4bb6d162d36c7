// Holds 2,000 idle SMTP sessions open in one process and counts the
// greetings; memory is recorded in the test log, not asserted (speed and
// footprint belong in bench/). Bounded in count and in time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { startSmtpd } from './harness.js';

/** Each session costs two descriptors here (client and server end); stay under the soft limit. */
function sessionBudget(): number {
  try {
    const limit = Number.parseInt(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim(), 10);
    if (Number.isFinite(limit)) return Math.min(2000, Math.floor((limit - 256) / 2 / 100) * 100);
  } catch {
    // `unlimited` or no shell: fall through.
  }
  return 2000;
}

const SESSIONS = sessionBudget();

test(
  `${SESSIONS} concurrent idle sessions are all greeted`,
  { skip: SESSIONS < 100 && 'file descriptor limit too low' },
  async (t) => {
    const h = await startSmtpd('smtpd_client_connection_count_limit = 0\nsmtpd_peername_lookup = no');
    const before = process.memoryUsage().rss;
    const sockets: net.Socket[] = [];
    let greeted = 0;
    const deadline = Date.now() + 60_000;
    try {
      // Connect in batches, each greeted before the next, so the listen backlog never overflows.
      for (let batch = 0; batch < SESSIONS / 100 && Date.now() < deadline; batch++) {
        const all: Promise<void>[] = [];
        for (let i = 0; i < 100; i++) {
          all.push(
            new Promise<void>((resolve) => {
              const s = net.connect(h.port, '127.0.0.1');
              sockets.push(s);
              let buf = '';
              s.setEncoding('utf8');
              s.on('data', (d: string) => {
                buf += d;
                if (buf.includes('\r\n')) {
                  if (buf.startsWith('220 mx.example.test ESMTP Postern')) greeted++;
                  resolve();
                }
              });
              s.on('error', () => resolve());
              s.on('close', () => resolve());
            }),
          );
        }
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(all),
          new Promise((r) => {
            timer = setTimeout(r, Math.max(0, deadline - Date.now()));
          }),
        ]);
        clearTimeout(timer);
      }
      const open = h.smtpd.sessionCount();
      const rss = process.memoryUsage().rss;
      t.diagnostic(
        `greeted=${greeted} open sessions=${open} rss delta=${((rss - before) / 1048576).toFixed(1)} MiB ` +
          `(~${((rss - before) / SESSIONS / 1024).toFixed(1)} KiB per session incl. client sockets)`,
      );
      assert.equal(greeted, SESSIONS);
      assert.equal(open, SESSIONS);
    } finally {
      for (const s of sockets) s.destroy();
      await h.close();
    }
  },
);
