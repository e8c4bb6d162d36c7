// smtpd_timeout on one shared clock (src/daemons/smtpd/idle-clock.ts): a
// session times out only after the whole timeout without a byte either way,
// a session that keeps talking never does, and an ended session is forgotten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import net from 'node:net';
import { IdleClock } from '../../src/daemons/smtpd/idle-clock.js';
import { RawClient, eventually, startSmtpd } from './harness.js';

function watched(): { progress: () => number; onIdle: () => void; bytes: number; fired: number } {
  const w = {
    bytes: 0,
    fired: 0,
    progress: () => w.bytes,
    onIdle: () => {
      w.fired++;
    },
  };
  return w;
}

test('the clock fires only for a session whose byte count stood still for the timeout', async () => {
  const clock = new IdleClock(300);
  const busy = watched();
  const idle = watched();
  const stopBusy = clock.watch(busy);
  const stopIdle = clock.watch(idle);
  // Bounded: at most 50 steps of 20 ms, until the idle one has fired.
  for (let i = 0; i < 50 && idle.fired === 0; i++) {
    busy.bytes++;
    await sleep(20);
  }
  for (let i = 0; i < 100 && idle.fired === 0; i++) await sleep(20);
  assert.equal(idle.fired, 1, 'the idle session timed out');
  assert.equal(busy.fired, 0, 'the session that kept moving did not');
  stopIdle();
  const firedBefore = idle.fired;
  for (let i = 0; i < 25; i++) {
    busy.bytes++;
    await sleep(20);
  }
  assert.equal(idle.fired, firedBefore, 'an unwatched session is not called again');
  stopBusy();
});

test('a client sending a command now and then outlives smtpd_timeout; a silent one does not', async () => {
  const h = await startSmtpd('smtpd_timeout = 1s');
  const talker = await RawClient.connect(h.port);
  await talker.reply();
  // 2.5 s in all, a NOOP every half second: never a second without a byte.
  for (let i = 0; i < 5; i++) {
    assert.equal(await talker.cmd('NOOP'), '250 2.0.0 Ok');
    await sleep(500);
  }
  assert.equal(await talker.cmd('QUIT'), '221 2.0.0 Bye');
  const silent = await RawClient.connect(h.port);
  await silent.reply();
  assert.equal(await silent.reply(8000), '421 4.4.2 mx.example.test Error: timeout exceeded');
  await h.close();
  assert.ok(!h.logs().some((l) => l.startsWith('timeout after NOOP')), h.logs().join('\n'));
  assert.ok(h.logs().includes('timeout after CONNECT from localhost[127.0.0.1]'), h.logs().join('\n'));
});

test('a client that stops reading its replies is dropped after smtpd_timeout', async () => {
  const h = await startSmtpd('smtpd_timeout = 1s\nsmtpd_junk_command_limit = 1000000');
  const sock = net.connect(h.port, '127.0.0.1');
  let seen = '';
  const onData = (d: Buffer): void => {
    seen += d.toString('latin1');
  };
  sock.on('data', onData);
  sock.on('error', () => undefined);
  await eventually(() => seen.includes('220 '), 5000);
  sock.write('EHLO x\r\n');
  await eventually(() => seen.includes('250 CHUNKING'), 5000);
  // From now on nothing is read: the replies to 100,000 pipelined RSETs (1.4 MB)
  // fill the kernel's buffers and then Node's, and the session waits for a drain that never comes.
  sock.off('data', onData);
  sock.pause();
  let closed = false;
  sock.on('close', () => (closed = true));
  sock.write('RSET\r\n'.repeat(100_000));
  assert.ok(
    await eventually(() => h.logs().includes('timeout after RSET from localhost[127.0.0.1]'), 15000),
    h.logs().slice(-5).join('\n'),
  );
  sock.resume();
  assert.ok(await eventually(() => closed, 5000), 'the server closed the connection');
  sock.destroy();
  await h.close();
});
