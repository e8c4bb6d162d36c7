// smtp_generic_maps end to end: `postfix start` on a temporary configuration
// (the e2e harness), swaks submits, the real smtp transport relays to a
// recording receiver. The receiver sees the mapped envelope sender and From:
// header; the queue and Postern's own log keep the original addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { e2eSkip, startMailSystem, swaks } from '../e2e/harness.js';
import { RecordingReceiver } from '../e2e/recording-receiver.js';

test('smtp_generic_maps through a running mail system', { skip: e2eSkip('swaks') }, async () => {
  const receiver = await RecordingReceiver.start({});
  const sys = await startMailSystem({
    mainCf: `myhostname = mx.example.test
mydomain = example.test
mydestination = $myhostname, localhost
mynetworks = 127.0.0.1/32
relayhost = [127.0.0.1]:${receiver.port}
smtp_generic_maps = inline:{ alice@example.test=alice.public@isp.test }`,
  });
  try {
    const id = await swaks(sys.port, 'alice@example.test', 'bob@remote.test');
    const [msg] = await receiver.waitFor(1).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await sys.log()}`);
    });
    assert.equal(msg?.mailFrom, 'alice.public@isp.test');
    assert.deepEqual(msg?.rcptTo, ['bob@remote.test']);
    assert.match(msg?.data ?? '', /^From: alice\.public@isp\.test\r\n/m);
    assert.match(msg?.data ?? '', /^To: bob@remote\.test\r\n/m);
    await sys.waitForLog(new RegExp(`${id}: from=<alice@example\\.test>`));
    await sys.waitForLog(new RegExp(`${id}: to=<bob@remote\\.test>, relay=.*status=sent`));
  } finally {
    await sys.cleanup();
    await receiver.close();
  }
});
