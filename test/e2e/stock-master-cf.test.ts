// Debian's own /etc/postfix/master.cf (from the installed postfix package)
// runs unchanged except for the smtpd address: daemons Postern does not
// have yet are skipped with a warning, none fails, and mail flows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { runBin } from '../postfix/run-bin.js';
import { e2eSkip, startMailSystem, swaks } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

const STOCK = '/etc/postfix/master.cf';
const skip = e2eSkip('swaks') || (existsSync(STOCK) ? false : `${STOCK} not installed (Debian package postfix)`);

test('the stock Debian master.cf starts and delivers', { skip }, async () => {
  const stock = readFileSync(STOCK, 'utf8');
  assert.match(stock, /^smtp\s+inet\s/m, 'the stock file has its smtp inet line');
  const receiver = await RecordingReceiver.start();
  const sys = await startMailSystem({
    mainCf: `myhostname = mx.example.test
mydestination =
relayhost = [127.0.0.1]:${receiver.port}`,
    // port 25 may be taken (and needs root): serve the same entry on a free loopback port
    masterCf: (port) => stock.replace(/^smtp(\s+inet\s)/m, `127.0.0.1:${port}$1`),
  });
  try {
    const id = await swaks(sys.port, 'alice@example.test', 'bob@remote.test');
    const [msg] = await receiver.waitFor(1).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await sys.log()}`);
    });
    assert.deepEqual(msg?.rcptTo, ['bob@remote.test']);
    const log = await sys.waitForLog(new RegExp(`postfix/qmgr\\[\\d+\\]: ${id}: removed`));
    assert.doesNotMatch(log, /failed to start|unknown command|fatal|panic/);

    // local submission: sendmail → postdrop → maildrop → pickup → cleanup → the same relay
    const sent = await runBin('sendmail', ['-C', sys.configDir, '-f', 'alice@example.test', 'frank@remote.test'], {
      input: 'Subject: via sendmail\n\nlocal submission\n',
    });
    assert.equal(sent.code, 0, sent.stderr);
    const [, viaPickup] = await receiver.waitFor(2).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await sys.log()}`);
    });
    assert.deepEqual(viaPickup?.rcptTo, ['frank@remote.test']);
    assert.match(viaPickup?.data ?? '', /^Subject: via sendmail\r\n/m);
    await sys.waitForLog(/postfix\/pickup\[\d+\]: \w+: uid=\d+ from=<alice@example\.test>/);
    for (const daemon of [
      'cleanup',
      'qmgr',
      'trivial-rewrite',
      'bounce',
      'smtpd',
      'smtp',
      'error',
      'discard',
      'lmtp',
      'anvil',
    ])
      assert.doesNotMatch(log, new RegExp(`command ${daemon} is not yet supported`), `${daemon} runs`);
  } finally {
    await sys.cleanup();
    await receiver.close();
  }
});
