// A milter that breaks the protocol must cost a reply, never the session:
// a fake filter negotiates properly, then answers every event with random
// packets. Every call must resolve (continue or the default_action), and
// the client must never throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { Config } from '../../src/global/params/config.js';
import { MilterMessage } from '../../src/global/milter/message.js';
import { Milters } from '../../src/global/milter/milters.js';
import { sessionMacros } from '../../src/global/milter/macros.js';
import { readMilterSettings } from '../../src/global/milter/settings.js';

function packet(cmd: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length + 1);
  return Buffer.concat([len, Buffer.from(cmd, 'latin1'), data]);
}

/** Negotiates version 6 with no events switched off, then sends `replies` (one per received packet). */
async function fakeMilter(replies: Buffer[]): Promise<{ port: number; close(): void }> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let n = 0;
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const cmd = String.fromCharCode(buf[4] ?? 0);
        buf = buf.subarray(4 + buf.readUInt32BE(0));
        if (cmd === 'O') {
          const d2 = Buffer.alloc(12);
          d2.writeUInt32BE(6, 0);
          d2.writeUInt32BE(0x1ff, 4);
          d2.writeUInt32BE(0, 8);
          s.write(packet('O', d2));
        } else if (cmd !== 'D' && cmd !== 'A' && cmd !== 'Q') {
          s.write(replies[n++ % Math.max(1, replies.length)] ?? packet('c', Buffer.alloc(0)));
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { port: typeof a === 'object' && a ? a.port : 0, close: () => server.close() };
}

const macros = sessionMacros({ myhostname: 'mx', daemonName: 'mx', v: 'Postern', mailer: 'smtp' });

test('random replies from a milter never throw and always settle', async () => {
  const reply = fc.tuple(
    fc.constantFrom('a', 'c', 'd', 'r', 't', 'y', 'q', 's', 'p', 'h', 'i', 'm', 'e', '+', '-', '2', 'b', '4', 'x'),
    fc.uint8Array({ maxLength: 40 }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(reply, { minLength: 1, maxLength: 8 }), async (rs) => {
      const f = await fakeMilter(rs.map(([c, d]) => packet(c, Buffer.from(d))));
      try {
        const config = Config.fromText(
          `smtpd_milters = { inet:127.0.0.1:${f.port}, command_timeout=2s, content_timeout=2s }\n`,
        );
        const m = new Milters(readMilterSettings(config, 'smtpd_milters'), new MemoryLogger('postfix/smtpd'));
        const client = { name: 'unknown', addr: '127.0.0.1', port: 1 };
        const verdicts = [
          await m.connect(client, macros),
          await m.helo('h', macros),
          await m.mail(['<a@b>'], macros),
          await m.rcpt(['<c@d>'], macros),
          await m.data(macros),
          await m.message(new MilterMessage(Buffer.from('Subject: x\r\n\r\nbody\r\n')), { eoh: macros, eom: macros }),
        ];
        for (const v of verdicts)
          assert.ok(v === undefined || ['reply', 'hold', 'discard', 'shutdown'].includes(v.kind));
        m.abort();
        m.quit();
      } finally {
        f.close();
      }
    }),
    { numRuns: 40 },
  );
});
