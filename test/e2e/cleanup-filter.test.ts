// A content_filter given with `-o` on the cleanup entry of master.cf, end to
// end through `postfix start`: mail received by smtpd, mail submitted with
// sendmail (through pickup) and a bounce notice all go to the filter; the
// filter's re-injection smtpd, whose own entry says `-o content_filter=`, is
// not filtered again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../master/harness.js';
import { runBin } from '../postfix/run-bin.js';
import { e2eSkip, run, startMailSystem, stockMasterCf, swaks } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

/** python3 smtplib: send stdin as the message. */
const REINJECT = `
import smtplib, sys
port, sender, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
with smtplib.SMTP('127.0.0.1', port, timeout=20) as s:
    s.sendmail(sender, rcpts, sys.stdin.buffer.read())
`;

test(
  'cleanup -o content_filter: smtpd, sendmail and bounce mail all go to the filter; re-injected mail does not',
  { skip: e2eSkip('swaks', 'python3') },
  async () => {
    const filter = await RecordingReceiver.start();
    const receiver = await RecordingReceiver.start();
    const reinject = await freePort();
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination =
relayhost = [127.0.0.1]:${receiver.port}
transport_maps = inline:{ { gone.test = error:5.1.1 mailbox gone } }`,
      masterCf: (port) =>
        stockMasterCf(
          port,
          `scan      unix  -       -       n       -       10      smtp
127.0.0.1:${reinject} inet n - n - 10 smtpd
  -o content_filter=
  -o mynetworks=127.0.0.0/8
`,
        ).replace(/^cleanup .*$/m, `$&\n  -o content_filter=scan:[127.0.0.1]:${filter.port}`),
    });
    try {
      await swaks(sys.port, 'alice@example.test', 'bob@remote.test');
      const sent = await runBin('sendmail', ['-C', sys.configDir, '-f', 'carol@example.test', 'dave@remote.test'], {
        input: 'Subject: from sendmail\n\nbody\n',
      });
      assert.equal(sent.code, 0, sent.stderr);
      const [a, b] = await filter.waitFor(2, 30_000);
      const froms = [a?.mailFrom, b?.mailFrom].sort();
      assert.deepEqual(froms, ['alice@example.test', 'carol@example.test']);
      assert.equal(receiver.messages.length, 0, 'nothing bypasses the filter');

      // The filter hands one back on its re-injection port: delivered, not filtered again.
      const back = await run(
        'python3',
        ['-c', REINJECT, String(reinject), 'alice@example.test', 'bob@remote.test'],
        a?.data ?? '',
      );
      assert.equal(back.code, 0, back.stderr);
      const [final] = await receiver.waitFor(1);
      assert.deepEqual(final?.rcptTo, ['bob@remote.test']);
      assert.equal(filter.messages.length, 2);

      // A re-injected message that bounces: the notice (from cleanup's bounce source) is filtered too.
      const gone = await run(
        'python3',
        ['-c', REINJECT, String(reinject), 'alice@example.test', 'x@gone.test'],
        'Subject: to a gone mailbox\r\n\r\nbody\r\n',
      );
      assert.equal(gone.code, 0, gone.stderr);
      const notices = await filter.waitFor(3, 30_000);
      const notice = notices[2];
      assert.equal(notice?.mailFrom, '');
      assert.deepEqual(notice?.rcptTo, ['alice@example.test']);
      assert.match(notice?.data ?? '', /multipart\/report/);
      assert.equal(receiver.messages.length, 1);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nmail log:\n${await sys.log()}`);
    } finally {
      await sys.cleanup();
      await filter.close();
      await receiver.close();
    }
  },
);
