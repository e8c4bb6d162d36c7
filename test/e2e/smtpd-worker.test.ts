// postern_smtpd_workers = 1, end to end through `postfix start`: SMTP sessions
// run in their own process and reach cleanup in the core worker over the
// channel; mail accepted there is delivered; `postfix reload` reaches that
// process; kill -9 of it drops the session in progress (whose message was
// never accepted and is never delivered) but no accepted mail, and master
// restarts it on the same listening sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { greeting, LineClient } from '../master/harness.js';
import { e2eSkip, swaks } from './harness.js';
import { startOnFreshPorts } from './smtpd-worker-harness.js';
import { RecordingReceiver } from './recording-receiver.js';

async function say(c: LineClient, line: string): Promise<string> {
  let reply = await c.command(line);
  for (let i = 0; i < 50 && reply[3] === '-'; i++) reply = await c.readLine();
  return reply;
}

function pidOf(log: string, pattern: RegExp): number {
  return Number(pattern.exec(log)?.[1]);
}

test(
  'postern_smtpd_workers = 1: sessions in their own process; reload reaches it; its crash loses no accepted mail',
  { skip: e2eSkip('swaks') },
  async () => {
    const receiver = await RecordingReceiver.start();
    const sys = await startOnFreshPorts(() => ({
      mainCf: `myhostname = mx.example.test
mydestination =
postern_smtpd_workers = 1
smtpd_banner = $myhostname ESMTP before reload
relayhost = [127.0.0.1]:${receiver.port}`,
    })).catch(async (e: unknown) => {
      await receiver.close(); // a failed start must not leave the test process hanging
      throw e;
    });
    try {
      const first = await swaks(sys.port, 'alice@example.test', 'bob@remote.test');
      let log = await sys.waitForLog(new RegExp(`postfix/cleanup\\[\\d+\\]: ${first}: message-id=`));
      const smtpdPid = pidOf(log, new RegExp(`postfix/smtpd\\[(\\d+)\\]: ${first}: client=`));
      const corePid = pidOf(log, new RegExp(`postfix/cleanup\\[(\\d+)\\]: ${first}: message-id=`));
      assert.ok(smtpdPid > 0 && corePid > 0, log);
      assert.notEqual(smtpdPid, corePid, 'smtpd runs in a process of its own');

      // A session in the middle of DATA when the smtpd process dies: nothing of it may be delivered.
      const c = await LineClient.open(sys.port);
      assert.match(await c.readLine(), /^220 /);
      assert.match(await say(c, 'EHLO client.example.test'), /^250 /);
      assert.match(await say(c, 'MAIL FROM:<mallory@example.test>'), /^250 /);
      assert.match(await say(c, 'RCPT TO:<never@remote.test>'), /^250 /);
      assert.match(await say(c, 'DATA'), /^354 /);
      c.send('Subject: cut off\r\n\r\npartial\r\n');
      process.kill(smtpdPid, 'SIGKILL');
      await sys.waitForLog(
        new RegExp(`postfix/master\\[\\d+\\]: warning: process smtpd pid ${smtpdPid} killed by signal 9`),
      );
      c.close();
      // master restarts it (after a short throttle) on the sockets it bound again.
      let up = '';
      for (let i = 0; i < 300 && !up.startsWith('220 '); i++) {
        up = await greeting(sys.port).catch(() => '');
        if (!up.startsWith('220 ')) await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(up, /^220 /, await sys.log());

      const second = await swaks(sys.port, 'carol@example.test', 'dan@remote.test');
      log = await sys.waitForLog(new RegExp(`postfix/smtpd\\[\\d+\\]: ${second}: client=`));
      const newSmtpdPid = pidOf(log, new RegExp(`postfix/smtpd\\[(\\d+)\\]: ${second}: client=`));
      assert.ok(newSmtpdPid > 0 && newSmtpdPid !== smtpdPid && newSmtpdPid !== corePid, log);

      const got = await receiver.waitFor(2, 30_000).catch(async (e: Error) => {
        throw new Error(`${e.message}\n${await sys.log()}`);
      });
      assert.deepEqual(got.map((m) => m.rcptTo[0]).sort(), ['bob@remote.test', 'dan@remote.test']);
      await sys.waitForLog(new RegExp(`${first}: removed`));
      await sys.waitForLog(new RegExp(`${second}: removed`));
      assert.equal(receiver.messages.length, 2, 'the cut-off message is never delivered');
      assert.doesNotMatch(await sys.log(), /never@remote\.test>.*status=sent/);

      // postfix reload reaches the restarted smtpd process.
      const mainCf = join(sys.configDir, 'main.cf');
      await writeFile(mainCf, (await readFile(mainCf, 'utf8')).replace('before reload', 'after reload'));
      assert.equal((await sys.postfix('reload')).code, 0);
      let banner = '';
      for (let i = 0; i < 200 && banner !== '220 mx.example.test ESMTP after reload'; i++) {
        banner = await greeting(sys.port).catch(() => '');
        if (banner !== '220 mx.example.test ESMTP after reload') await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(banner, '220 mx.example.test ESMTP after reload', await sys.log());
    } finally {
      await sys.cleanup();
      await receiver.close();
    }
  },
);

test(
  'postern_smtpd_workers = 0: sessions stay in the core worker, next to cleanup',
  { skip: e2eSkip('swaks') },
  async () => {
    const receiver = await RecordingReceiver.start();
    const sys = await startOnFreshPorts(() => ({
      mainCf: `myhostname = mx.example.test
mydestination =
postern_smtpd_workers = 0
relayhost = [127.0.0.1]:${receiver.port}`,
    })).catch(async (e: unknown) => {
      await receiver.close(); // a failed start must not leave the test process hanging
      throw e;
    });
    try {
      const id = await swaks(sys.port, 'alice@example.test', 'bob@remote.test');
      const log = await sys.waitForLog(new RegExp(`postfix/cleanup\\[\\d+\\]: ${id}: message-id=`));
      const smtpdPid = pidOf(log, new RegExp(`postfix/smtpd\\[(\\d+)\\]: ${id}: client=`));
      assert.equal(smtpdPid, pidOf(log, new RegExp(`postfix/cleanup\\[(\\d+)\\]: ${id}: message-id=`)), log);
      const [msg] = await receiver.waitFor(1, 30_000);
      assert.deepEqual(msg?.rcptTo, ['bob@remote.test']);
    } finally {
      await sys.cleanup();
      await receiver.close();
    }
  },
);
