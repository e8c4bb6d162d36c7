// End to end through `postfix start`: a real milter on smtpd_milters edits
// mail that swaks submits (the relayed copy carries the milter's header and
// recipients), refuses a recipient with its own reply, and with the smtpd
// worker process (postern_smtpd_workers = 1) the edits still reach the queue
// through the cleanup link. non_smtpd_milters see sendmail's mail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { e2eSkip, run, startMailSystem, swaks } from '../e2e/harness.js';
import { RecordingReceiver } from '../e2e/recording-receiver.js';
import { runBin } from '../postfix/run-bin.js';
import { milterSkip, startMilter } from './harness.js';

const skip = milterSkip || e2eSkip('swaks');

for (const workers of [0, 1]) {
  test(`smtpd_milters edit relayed mail (postern_smtpd_workers = ${workers})`, { skip }, async () => {
    const receiver = await RecordingReceiver.start();
    const milter = await startMilter('addheader=e2e', 'addrcpt=copy@remote.test', 'reject-rcpt=refused@remote.test');
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination = $myhostname, localhost
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:${receiver.port}
postern_smtpd_workers = ${workers}
smtpd_milters = ${milter.spec}
non_smtpd_milters = ${milter.spec}`,
    });
    try {
      const refused = await run('swaks', [
        '--server',
        `127.0.0.1:${sys.port}`,
        '--from',
        'alice@example.test',
        '--to',
        'refused@remote.test',
        '--quit-after',
        'RCPT',
      ]);
      assert.match(refused.stdout, /<\*\* +550 5\.1\.1 no such user here \(milter\)/);
      const id = await swaks(sys.port, 'alice@example.test', 'bob@remote.test');
      const sent = await receiver.waitFor(1);
      const msg = sent.find((m) => m.rcptTo.includes('bob@remote.test'));
      assert.ok(msg, JSON.stringify(sent));
      assert.deepEqual([...msg.rcptTo].sort(), ['bob@remote.test', 'copy@remote.test']);
      assert.match(msg.data, /\r\nX-Milter: e2e\r\n/);
      await sys.waitForLog(new RegExp(`${id}: removed`));
      await sys.waitForLog(/NOQUEUE: milter-reject: RCPT from .*: 550 5\.1\.1 no such user here \(milter\);/);

      // Local submission: the same milter sees it as non-SMTP mail.
      const sm = await runBin('sendmail', ['-C', sys.configDir, '-f', 'alice@example.test', 'dave@remote.test'], {
        input: 'Subject: local\n\nfrom sendmail\n',
      });
      assert.equal(sm.code, 0, sm.stderr);
      const all = await receiver.waitFor(2);
      const local = all.find((m) => m.rcptTo.includes('dave@remote.test'));
      assert.ok(local, JSON.stringify(all));
      assert.match(local.data, /\r\nX-Milter: e2e\r\n/);
    } finally {
      await sys.cleanup();
      await milter.stop();
      await receiver.close();
    }
  });
}
