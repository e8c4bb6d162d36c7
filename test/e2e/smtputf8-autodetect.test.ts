// smtputf8_autodetect_classes end to end: with the default classes
// (sendmail, verify), a sendmail submission with a UTF-8 Subject: is flagged
// "SMTPUTF8 requested" by cleanup, so the smtp client refuses to pass it to a
// relay that does not offer SMTPUTF8 and the sender gets it back (5.6.7);
// the same header received by smtpd without SMTPUTF8 is delivered as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBin } from '../postfix/run-bin.js';
import { e2eSkip, startMailSystem, swaks } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

test(
  'smtputf8_autodetect_classes: sendmail mail with a UTF-8 header bounces at a non-SMTPUTF8 relay; smtpd mail passes',
  { skip: e2eSkip('swaks') },
  async () => {
    const receiver = await RecordingReceiver.start();
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination =
relayhost = [127.0.0.1]:${receiver.port}`,
    });
    try {
      const sent = await runBin('sendmail', ['-C', sys.configDir, '-f', 'carol@example.test', 'dave@remote.test'], {
        input: 'Subject: Grüße aus Köln\n\nbody\n',
      });
      assert.equal(sent.code, 0, sent.stderr);
      const log = await sys.waitForLog(
        /to=<dave@remote\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*dsn=5\.6\.7, status=bounced \(SMTPUTF8 is required, but was not offered by host 127\.0\.0\.1\[127\.0\.0\.1\]\)/,
      );
      const [notice] = await receiver.waitFor(1);
      assert.equal(notice?.mailFrom, '');
      assert.deepEqual(notice?.rcptTo, ['carol@example.test']);
      assert.match(notice?.data ?? '', /SMTPUTF8 is required/);

      await swaks(sys.port, 'alice@example.test', 'bob@remote.test', ['--header', 'X-Greeting: Grüße']);
      const [, plain] = await receiver.waitFor(2);
      assert.equal(plain?.mailFrom, 'alice@example.test');
      // Passed on as received (the receiver reads bytes as latin1).
      assert.match(Buffer.from(plain?.data ?? '', 'latin1').toString('utf8'), /^X-Greeting: Grüße\r$/m, log);
    } finally {
      await sys.cleanup();
      await receiver.close();
    }
  },
);
