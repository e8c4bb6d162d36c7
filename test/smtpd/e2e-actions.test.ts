// End to end through `postfix start`: check_*_access actions reach the queue
// (HOLD shows as `!` in postqueue -p, FILTER is stored with the message,
// REDIRECT delivers to the new address) and ETRN retries deferred mail for an
// eligible domain while refusing others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openQueueStore } from '../../src/global/queue/open-store.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { Config } from '../../src/global/params/config.js';
import { freePort } from '../master/harness.js';
import { runBin } from '../postfix/run-bin.js';
import { e2eSkip, run, startMailSystem, swaks } from '../e2e/harness.js';
import { RecordingReceiver } from '../e2e/recording-receiver.js';

/** One ETRN after EHLO; prints the reply. */
const ETRN = `
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=20)
s.ehlo('client.example.test')
code, text = s.docmd('ETRN', sys.argv[2])
print(code, text.decode())
s.quit()
`;

test(
  'access actions reach the queue; ETRN flushes an eligible domain',
  { skip: e2eSkip('swaks', 'python3') },
  async () => {
    const receiver = await RecordingReceiver.start();
    const deadPort = await freePort();
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydomain = example.test
mydestination = $myhostname, localhost
mynetworks = 127.0.0.1/32
relayhost = [127.0.0.1]:${receiver.port}
relay_domains = dead.test
transport_maps = inline:{dead.test=smtp:[127.0.0.1]:${deadPort}}
smtpd_recipient_restrictions = check_recipient_access inline:{ held@remote.test=HOLD, { filtered@remote.test = FILTER relay:[127.0.0.1]:10025 }, { redir@remote.test = REDIRECT other@remote.test } }, permit_mynetworks, reject_unauth_destination
smtpd_sender_restrictions = check_sender_access inline:{ keep@example.test=HOLD }`,
    });
    try {
      const held = await swaks(sys.port, 'alice@example.test', 'held@remote.test');
      const filtered = await swaks(sys.port, 'keep@example.test', 'filtered@remote.test');
      await swaks(sys.port, 'alice@example.test', 'redir@remote.test');
      const [msg] = await receiver.waitFor(1);
      // As in Postfix, the queue file is opened only after the first recipient passed its checks: NOQUEUE.
      assert.deepEqual(msg?.rcptTo, ['other@remote.test']);
      await sys.waitForLog(
        new RegExp(
          `postfix/smtpd\\[\\d+\\]: NOQUEUE: hold: RCPT from unknown\\[127\\.0\\.0\\.1\\]: <held@remote\\.test>: Recipient address triggers HOLD action; from=<alice@example\\.test> to=<held@remote\\.test> proto=ESMTP helo=<client\\.example\\.test>`,
        ),
      );
      const q = await runBin('postqueue', ['-c', sys.configDir, '-p']);
      assert.equal(q.code, 0, q.stderr);
      assert.match(q.stdout, new RegExp(`^${held}!\\s`, 'm'));
      assert.match(q.stdout, new RegExp(`^${filtered}!\\s`, 'm'));

      // ETRN: deferred mail for dead.test is retried at once; other domains are refused.
      const stuck = await swaks(sys.port, 'alice@example.test', 'dave@dead.test');
      const deferred = new RegExp(`${stuck}: to=<dave@dead\\.test>, relay=none, .*status=deferred`, 'g');
      await sys.waitForLog(deferred);
      const before = (await sys.log()).match(deferred)?.length ?? 0;
      const ok = await run('python3', ['-c', ETRN, String(sys.port), 'dead.test']);
      assert.equal(ok.stdout.trim(), '250 Queuing started', ok.stderr);
      await sys.waitForLog(
        new RegExp(`(?:${stuck}: to=<dave@dead\\.test>, relay=none, .*status=deferred[^]*){${before + 1}}`),
      );
      const no = await run('python3', ['-c', ETRN, String(sys.port), 'remote.test']);
      assert.equal(no.stdout.trim(), '459 <remote.test>: service unavailable', no.stderr);

      assert.equal((await sys.postfix('stop')).code, 0);
      const store = await openQueueStore(Config.fromText(`queue_directory = ${sys.queueDir}`), new MemoryLogger());
      try {
        assert.equal(store.get(held)?.state, 'hold');
        assert.equal(store.get(filtered)?.state, 'hold');
        assert.equal(store.get(filtered)?.filter, 'relay:[127.0.0.1]:10025');
      } finally {
        await store.close();
      }
    } finally {
      await sys.cleanup();
      await receiver.close();
    }
  },
);
