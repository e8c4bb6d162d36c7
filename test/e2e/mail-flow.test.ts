// End to end through real processes: `postfix start` on a temporary
// configuration, swaks and python3 smtplib as clients, smtpd → cleanup →
// queue → qmgr → smtp client → a recording receiver. Checks the replies
// clients see, the envelopes the receiver records and Postfix's log lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openQueueStore } from '../../src/global/queue/open-store.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { Config } from '../../src/global/params/config.js';
import { freePort } from '../master/harness.js';
import { e2eSkip, run, startMailSystem, swaks } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

/** One RCPT from a chosen source address; prints the server's reply code and text. */
const RCPT_FROM = `
import smtplib, sys
port, src, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP('127.0.0.1', port, source_address=(src, 0), timeout=20)
s.ehlo('stranger.example')
s.mail('someone@outside.example')
code, text = s.rcpt(rcpt)
print(code, text.decode())
s.quit()
`;

test(
  'mail flows: relay to the receiver, relay refused for strangers, 5xx bounces, dead destination defers',
  { skip: e2eSkip('swaks', 'python3') },
  async () => {
    const receiver = await RecordingReceiver.start({ rejectRcpt: /^nosuchuser@/ });
    const deadPort = await freePort();
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydomain = example.test
mydestination = $myhostname, localhost
mynetworks = 127.0.0.1/32
relayhost = [127.0.0.1]:${receiver.port}
transport_maps = inline:{dead.test=smtp:[127.0.0.1]:${deadPort}}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination`,
    });
    try {
      // 1. a client in mynetworks relays: the receiver gets exactly the envelope
      const id = await swaks(sys.port, 'alice@example.test', 'bob@remote.test');
      const [msg] = await receiver.waitFor(1).catch(async (e: Error) => {
        throw new Error(`${e.message}\n${await sys.log()}`);
      });
      assert.equal(msg?.mailFrom, 'alice@example.test');
      assert.deepEqual(msg?.rcptTo, ['bob@remote.test']);
      assert.match(
        msg?.data ?? '',
        /^Received: from client\.example\.test .*\r\n\tby mx\.example\.test \(Postern\) with ESMTP id /m,
      );
      assert.match(msg?.data ?? '', /^Subject: e2e test\r\n/m);
      const relay = `127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${receiver.port}`;
      await sys.waitForLog(
        new RegExp(
          `postfix/smtp\\[\\d+\\]: ${id}: to=<bob@remote\\.test>, relay=${relay}, delay=[\\d.]+, delays=[\\d./]+, dsn=2\\.0\\.0, status=sent \\(250 2\\.0\\.0 Ok: queued as REC1\\)\\n`,
        ),
      );
      const log = await sys.waitForLog(new RegExp(`postfix/qmgr\\[\\d+\\]: ${id}: removed\\n`));
      assert.match(log, new RegExp(`postfix/smtpd\\[\\d+\\]: ${id}: client=unknown\\[127\\.0\\.0\\.1\\]`));
      assert.match(log, new RegExp(`postfix/cleanup\\[\\d+\\]: ${id}: message-id=<`));
      assert.match(
        log,
        new RegExp(`postfix/qmgr\\[\\d+\\]: ${id}: from=<alice@example\\.test>, size=\\d+, nrcpt=1 \\(queue active\\)`),
      );

      // 2. the same relay request from outside mynetworks is refused
      const stranger = await run('python3', ['-c', RCPT_FROM, String(sys.port), '127.0.0.2', 'bob@remote.test']);
      assert.equal(stranger.code, 0, stranger.stderr);
      assert.equal(stranger.stdout.trim(), '554 5.7.1 <bob@remote.test>: Relay access denied');
      await sys.waitForLog(
        /postfix\/smtpd\[\d+\]: NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 <bob@remote\.test>: Relay access denied; from=<someone@outside\.example> to=<bob@remote\.test> proto=ESMTP helo=<stranger\.example>/,
      );

      // 3. a 5xx from the receiver bounces; the notice goes back to the sender through the relay
      const bad = await swaks(sys.port, 'carol@sender.test', 'nosuchuser@remote.test');
      await sys.waitForLog(
        new RegExp(
          `${bad}: to=<nosuchuser@remote\\.test>, relay=${relay}, .*dsn=5\\.1\\.1, status=bounced \\(host 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\] said: 550 5\\.1\\.1 `,
        ),
      );
      const notice = await sys.waitForLog(
        new RegExp(`postfix/bounce\\[\\d+\\]: ${bad}: sender non-delivery notification: (\\w+)`),
      );
      const noticeId = new RegExp(`${bad}: sender non-delivery notification: (\\w+)`).exec(notice)?.[1] ?? '';
      const [, dsn] = await receiver.waitFor(2);
      assert.equal(dsn?.mailFrom, '');
      assert.deepEqual(dsn?.rcptTo, ['carol@sender.test']);
      assert.match(dsn?.data ?? '', /^Content-Type: message\/delivery-status/m);
      assert.match(dsn?.data ?? '', /^Final-Recipient: rfc822; ?nosuchuser@remote\.test/m);
      assert.match(dsn?.data ?? '', new RegExp(`^X-Postfix-Queue-ID: ${bad}`, 'm'));
      await sys.waitForLog(new RegExp(`${noticeId}: to=<carol@sender\\.test>, relay=${relay}, .*status=sent`));

      // 4. a destination nobody answers for: deferred, and still in the queue after a stop
      const stuck = await swaks(sys.port, 'alice@example.test', 'dave@dead.test');
      await sys.waitForLog(
        new RegExp(
          `postfix/smtp\\[\\d+\\]: ${stuck}: to=<dave@dead\\.test>, relay=none, .*dsn=4\\.4\\.1, status=deferred \\(connect to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${deadPort}: Connection refused\\)`,
        ),
      );
      // `postfix flush` (postqueue -f) makes qmgr try the deferred message again at once
      const deferredLine = new RegExp(`${stuck}: to=<dave@dead\\.test>, relay=none, .*status=deferred`, 'g');
      const attempts = (await sys.log()).match(deferredLine)?.length ?? 0;
      const flushed = await sys.postfix('flush');
      assert.equal(flushed.code, 0, flushed.stderr);
      await sys.waitForLog(
        new RegExp(`(?:${stuck}: to=<dave@dead\\.test>, relay=none, .*status=deferred[^]*){${attempts + 1}}`),
      );
      assert.equal((await sys.postfix('stop')).code, 0);
      const store = await openQueueStore(Config.fromText(`queue_directory = ${sys.queueDir}`), new MemoryLogger());
      try {
        const queued = store.get(stuck);
        assert.equal(queued?.state, 'deferred');
        assert.deepEqual(
          queued?.recipients.map((r) => [r.address, r.done]),
          [['dave@dead.test', false]],
        );
        assert.equal([...store.list()].length, 1, 'delivered and bounced mail has left the queue');
      } finally {
        await store.close();
      }
    } finally {
      await sys.cleanup();
      await receiver.close();
    }
  },
);
