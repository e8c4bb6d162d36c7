// Holds many idle SMTP sessions open against one server, for the `sessions`
// scenario of bench/harness.mjs: opens `count` connections (at most
// `inflight` handshakes at a time), waits for each 220 greeting and the reply
// to EHLO, then keeps every session idle. Prints one JSON line when all are
// established (or the time limit hits), then on each "probe" line read from
// stdin measures a fresh session's connect-to-220 time while the others are
// held; closes everything and exits when stdin ends. Bounded in count (≤ 20000)
// and time. Usage: node bench/idle-sessions.mjs PORT COUNT [INFLIGHT=200] [LIMIT_S=120]
import { Socket } from 'node:net';
import { createInterface } from 'node:readline';

const port = Number(process.argv[2]);
const count = Math.min(20000, Number(process.argv[3] ?? 1000));
const inflight = Number(process.argv[4] ?? 200);
const limitMs = Number(process.argv[5] ?? 120) * 1000;
const sockets = [];
let errors = 0;
let lastError = '';

/** One session up to the EHLO reply; resolves true when it is established. */
function open(deadline) {
  return new Promise((resolve) => {
    const s = new Socket();
    let buf = '';
    let stage = 'greeting';
    const fail = (why) => {
      if (stage === 'done' || stage === 'idle') return;
      stage = 'done';
      errors++;
      lastError = why;
      s.destroy();
      resolve(false);
    };
    const t = setTimeout(() => fail('timeout'), Math.max(1, deadline - Date.now()));
    s.on('error', (e) => fail(e.code ?? e.message));
    s.on('close', () => fail('closed by server'));
    s.on('data', (d) => {
      buf += d.toString('latin1');
      // a complete reply is a line with a space after the code
      while (/^\d{3} .*\r?\n/m.test(buf)) {
        const m = /^\d{3} .*\r?\n/m.exec(buf);
        const code = m[0].slice(0, 3);
        buf = buf.slice(m.index + m[0].length);
        if (stage === 'greeting') {
          if (code !== '220') return fail(`greeting ${m[0].trim()}`);
          stage = 'ehlo';
          s.write('EHLO bench.client\r\n');
        } else if (stage === 'ehlo') {
          clearTimeout(t);
          if (code !== '250') return fail(`EHLO ${m[0].trim()}`);
          stage = 'idle';
          sockets.push(s);
          resolve(true);
        }
      }
    });
    s.connect(port, '127.0.0.1');
  });
}

function timeToGreeting(timeoutMs = 30000) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const s = new Socket();
    const done = (v) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(null), timeoutMs);
    s.on('error', () => done(null));
    s.on('data', (d) => {
      if (d.toString('latin1').startsWith('220')) done(Number(process.hrtime.bigint() - t0) / 1e6);
      else done(null);
    });
    s.connect(port, '127.0.0.1');
  });
}

const t0 = Date.now();
const deadline = t0 + limitMs;
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(inflight, count) }, async () => {
    while (next < count && Date.now() < deadline) {
      next++;
      await open(deadline);
    }
  }),
);
const seconds = (Date.now() - t0) / 1000;
process.stdout.write(JSON.stringify({ ready: true, held: sockets.length, errors, lastError, seconds }) + '\n');

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (line.trim() === 'probe') {
    const ms = await timeToGreeting();
    const alive = sockets.filter((s) => !s.destroyed).length;
    process.stdout.write(JSON.stringify({ probe: ms, alive }) + '\n');
  }
}
for (const s of sockets) s.destroy();
process.exit(0);
