// The promises that matter most, end to end through `postfix start`: once
// smtpd has said 250 the message survives kill -9 of the core worker (master
// restarts it and the message is delivered), and `postfix reload` neither
// drops an SMTP session in progress nor the mail it carries, while new
// connections get the new configuration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, greeting, LineClient } from '../master/harness.js';
import { e2eSkip, startMailSystem, swaks } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

/** Sends one command and reads its whole (possibly multi-line) reply; returns the last line. */
async function say(c: LineClient, line: string): Promise<string> {
  let reply = await c.command(line);
  for (let i = 0; i < 50 && reply[3] === '-'; i++) reply = await c.readLine();
  return reply;
}

test(
  'kill -9 of the core worker after 250: the message is delivered after the restart',
  { skip: e2eSkip('swaks') },
  async () => {
    const receiver = await RecordingReceiver.start({ hold: true });
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination =
relayhost = [127.0.0.1]:${receiver.port}`,
    });
    try {
      const id = await swaks(sys.port, 'alice@example.test', 'bob@remote.test');
      // The smtp client is connected to a server that never greets: the message is in flight.
      await receiver.waitForConnections(1);
      // the core worker is the process that wrote the queue file (smtpd may run in a process of its own)
      const log = await sys.waitForLog(new RegExp(`postfix/cleanup\\[(\\d+)\\]: ${id}: message-id=`));
      const workerPid = Number(new RegExp(`postfix/cleanup\\[(\\d+)\\]: ${id}: message-id=`).exec(log)?.[1]);
      assert.ok(workerPid > 0 && workerPid !== process.pid);
      process.kill(workerPid, 'SIGKILL');
      await sys.waitForLog(
        new RegExp(`postfix/master\\[\\d+\\]: warning: process core pid ${workerPid} killed by signal 9`),
      );
      receiver.release();
      const [msg] = await receiver.waitFor(1, 30_000).catch(async (e: Error) => {
        throw new Error(`${e.message}\n${await sys.log()}`);
      });
      assert.equal(msg?.mailFrom, 'alice@example.test');
      assert.deepEqual(msg?.rcptTo, ['bob@remote.test']);
      const after = await sys.waitForLog(new RegExp(`postfix/qmgr\\[(\\d+)\\]: ${id}: removed`));
      const sent = new RegExp(
        `postfix/smtp\\[(\\d+)\\]: ${id}: to=<bob@remote\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${receiver.port}, .*status=sent \\(250 2\\.0\\.0 Ok: queued as REC1\\)`,
      ).exec(after);
      assert.ok(sent, `delivered by the new worker:\n${after}`);
      assert.notEqual(Number(sent[1]), workerPid);
      assert.equal(receiver.messages.length, 1, 'delivered exactly once');
    } finally {
      await sys.cleanup();
      await receiver.close();
    }
  },
);

test(
  'postfix reload keeps an open SMTP session and its mail; new sessions see the new main.cf',
  { skip: e2eSkip('swaks') },
  async () => {
    const receiver = await RecordingReceiver.start();
    const submissionPort = await freePort();
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination =
smtpd_banner = $myhostname ESMTP before reload
relayhost = [127.0.0.1]:${receiver.port}`,
      // a second smtpd entry with its own -o overrides, as a submission service is
      masterCfExtra: `127.0.0.1:${submissionPort} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o { smtpd_banner = $myhostname submission service }
  -o smtpd_relay_restrictions=reject
`,
    });
    const c = await LineClient.open(sys.port);
    try {
      assert.equal(await c.readLine(), '220 mx.example.test ESMTP before reload');
      assert.match(await say(c, 'EHLO client.example.test'), /^250 /);
      assert.match(await say(c, 'MAIL FROM:<alice@example.test>'), /^250 2\.1\.0 /);
      assert.match(await say(c, 'RCPT TO:<bob@remote.test>'), /^250 2\.1\.5 /);

      const mainCf = join(sys.configDir, 'main.cf');
      const text = await readFile(mainCf, 'utf8');
      await writeFile(mainCf, text.replace('before reload', 'after reload'));
      const reload = await sys.postfix('reload');
      assert.equal(reload.code, 0, reload.stderr);
      await sys.waitForLog(/postfix\/master\[\d+\]: reload -- version /);
      // master logs the reload when it tells the worker; the worker applies it
      // asynchronously, as Postfix's daemons do, so poll (bounded) for the new banner.
      let banner = await greeting(sys.port);
      for (let i = 0; i < 100 && banner !== '220 mx.example.test ESMTP after reload'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        banner = await greeting(sys.port);
      }
      assert.equal(banner, '220 mx.example.test ESMTP after reload');
      // the -o overrides of the other entry still apply after the reload
      const sub = await LineClient.open(submissionPort);
      try {
        assert.equal(await sub.readLine(), '220 mx.example.test submission service');
        assert.match(await say(sub, 'EHLO client.example.test'), /^250 /);
        assert.match(await say(sub, 'MAIL FROM:<alice@example.test>'), /^250 /);
        assert.match(await say(sub, 'RCPT TO:<bob@remote.test>'), /^554 5\.7\.1 /);
      } finally {
        sub.close();
      }
      await sys.waitForLog(
        /postfix\/submission\/smtpd\[\d+\]: NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 /,
      );

      // the session opened before the reload carries on
      assert.match(await say(c, 'DATA'), /^354 /);
      c.send('Subject: across a reload\r\n\r\nbody\r\n.\r\n');
      const queued = /^250 2\.0\.0 Ok: queued as (\w+)$/.exec(await c.readLine(10_000));
      assert.ok(queued?.[1], 'the message sent across the reload is queued');
      assert.match(await say(c, 'QUIT'), /^221 /);
      const second = await swaks(sys.port, 'carol@example.test', 'dan@remote.test');
      const got = await receiver.waitFor(2).catch(async (e: Error) => {
        throw new Error(`${e.message}\n${await sys.log()}`);
      });
      assert.deepEqual(got.map((m) => m.rcptTo[0]).sort(), ['bob@remote.test', 'dan@remote.test']);
      await sys.waitForLog(new RegExp(`${queued[1]}: removed`));
      await sys.waitForLog(new RegExp(`${second}: removed`));
    } finally {
      c.close();
      await sys.cleanup();
      await receiver.close();
    }
  },
);
