// What smtpd does beyond plain relaying, with postern_smtpd_workers = 1 (smtpd
// in its own process, cleanup and qmgr in the core, the link between them):
// access-table actions decided in smtpd and applied by cleanup at commit
// (REDIRECT, BCC, FILTER, HOLD), a master.cf content_filter and
// receive_override_options on one smtpd entry, XFORWARD attributes reaching cleanup, and
// ETRN reaching the core's queue manager (each was in-process-only before);
// and a core worker killed under it is reached again once master restarted it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, LineClient } from '../master/harness.js';
import { runBin } from '../postfix/run-bin.js';
import { e2eSkip, swaks } from './harness.js';
import { startOnFreshPorts } from './smtpd-worker-harness.js';
import { RecordingReceiver } from './recording-receiver.js';

async function say(c: LineClient, line: string): Promise<string> {
  let reply = await c.command(line);
  for (let i = 0; i < 50 && reply[3] === '-'; i++) reply = await c.readLine();
  return reply;
}

test(
  'postern_smtpd_workers = 1: access actions, content_filter, XFORWARD and ETRN work across the process boundary',
  { skip: e2eSkip('swaks') },
  async () => {
    const relay = await RecordingReceiver.start();
    const filter = await RecordingReceiver.start();
    let filtered = 0;
    const tables = await mkdtemp(join(tmpdir(), 'postern-hc-'));
    await writeFile(join(tables, 'header_checks'), '/^X-Bad:/ REJECT bad header\n');
    await chmod(tables, 0o755); // mail_owner reads it when the tests run as root
    const actions = [
      '{redir@x.test=REDIRECT moved@remote.test}',
      '{bcc@x.test=BCC copy@remote.test}',
      `{filt@x.test=FILTER smtp:[127.0.0.1]:${filter.port}}`,
      '{hold@x.test=HOLD}',
    ].join(', ');
    const sys = await startOnFreshPorts(async () => ({
      mainCf: `myhostname = mx.example.test
mydestination =
postern_smtpd_workers = 1
relayhost = [127.0.0.1]:${relay.port}
fast_flush_domains = flush.test
header_checks = regexp:${tables}/header_checks
smtpd_authorized_xforward_hosts = 127.0.0.0/8
smtpd_recipient_restrictions = check_recipient_access inline:{${actions}}, permit_mynetworks, reject_unauth_destination`,
      masterCfExtra: `127.0.0.1:${(filtered = await freePort())} inet n - n - - smtpd -o content_filter=smtp:[127.0.0.1]:${filter.port}
  -o receive_override_options=no_header_body_checks\n`,
    })).catch(async (e: unknown) => {
      await Promise.all([relay.close(), filter.close(), rm(tables, { recursive: true, force: true })]);
      throw e;
    });
    try {
      const ids = {
        redir: await swaks(sys.port, 'a@example.test', 'redir@x.test'),
        bcc: await swaks(sys.port, 'a@example.test', 'bcc@x.test'),
        filt: await swaks(sys.port, 'a@example.test', 'filt@x.test'),
        hold: await swaks(sys.port, 'a@example.test', 'hold@x.test'),
        // the entry's receive_override_options reach cleanup in the core: its header_checks are off for this entry only
        cf: await swaks(filtered, 'a@example.test', 'plain@x.test', ['--add-header', 'X-Bad: yes']),
      };
      await assert.rejects(
        swaks(sys.port, 'a@example.test', 'plain@x.test', ['--add-header', 'X-Bad: yes']),
        /550 5\.7\.1 bad header/,
      );
      // the sessions ran in the smtpd process, the queue file was written by the core
      const log = await sys.waitForLog(new RegExp(`postfix/cleanup\\[\\d+\\]: ${ids.cf}: message-id=`));
      const smtpdPid = /postfix\/smtpd\[(\d+)\]/.exec(log)?.[1];
      const corePid = /postfix\/cleanup\[(\d+)\]/.exec(log)?.[1];
      assert.ok(smtpdPid && corePid && smtpdPid !== corePid, log);

      const relayed = await relay.waitFor(2, 30_000);
      const rcpts = relayed.flatMap((m) => m.rcptTo).sort();
      assert.deepEqual(rcpts, ['bcc@x.test', 'copy@remote.test', 'moved@remote.test'].sort(), 'REDIRECT and BCC');
      const viaFilter = await filter.waitFor(2, 30_000);
      assert.deepEqual(
        viaFilter.flatMap((m) => m.rcptTo).sort(),
        ['filt@x.test', 'plain@x.test'],
        'FILTER, content_filter',
      );

      // HOLD: kept in the hold queue, not delivered
      const q = await runBin('postqueue', ['-c', sys.configDir, '-p']);
      assert.match(q.stdout, new RegExp(`^${ids.hold}!`, 'm'), q.stdout);
      assert.ok(!relayed.concat(viaFilter).some((m) => m.rcptTo.includes('hold@x.test')));

      // XFORWARD: the forwarded client travels with the message to cleanup, which then treats it as
      // remote (local_header_rewrite_clients): its bare From: stays as it is, the local client's is qualified
      const send = async (xforward: boolean, from: string): Promise<void> => {
        assert.match(await say(c, 'RSET'), /^250 /);
        if (xforward) assert.match(await say(c, 'XFORWARD NAME=origin.example.org ADDR=198.51.100.9'), /^250 /);
        assert.match(await say(c, 'MAIL FROM:<xf@example.test>'), /^250 /);
        assert.match(await say(c, `RCPT TO:<${from}@remote.test>`), /^250 /);
        assert.match(await say(c, 'DATA'), /^354 /);
        c.send(`From: ${from}\r\nSubject: forwarded\r\n\r\nhello\r\n.\r\n`);
        assert.match(await c.readLine(), /^250 2\.0\.0 Ok: queued as /);
      };
      const c = await LineClient.open(sys.port);
      assert.match(await c.readLine(), /^220 /);
      assert.match(await say(c, 'EHLO proxy.example.test'), /^250 /);
      await send(true, 'remoteuser');
      await send(false, 'localuser');
      const got = await relay.waitFor(4, 30_000);
      const body = (who: string): string => got.find((m) => m.rcptTo.includes(`${who}@remote.test`))?.data ?? '';
      assert.match(body('remoteuser'), /^From: remoteuser\r$/m);
      assert.match(body('localuser'), /^From: localuser@mx\.example\.test\r$/m);
      assert.match(
        await sys.log(),
        /postfix\/smtpd\[\d+\]: \w+: client=unknown\[127\.0\.0\.1\], orig_client=origin\.example\.org\[198\.51\.100\.9\]/,
      );

      // ETRN: a fast_flush domain reaches qmgr; any other is refused as Postfix refuses it
      assert.match(await say(c, 'ETRN flush.test'), /^250 Queuing started/);
      assert.match(await say(c, 'ETRN other.test'), /^459 /);
      c.close();
      assert.doesNotMatch(await sys.log(), /unable to talk to fast flush service/);

      // kill -9 of the core: the smtpd process stays, answers 451 meanwhile, and reaches the restarted core
      process.kill(Number(corePid), 'SIGKILL');
      await sys.waitForLog(
        new RegExp(`postfix/master\\[\\d+\\]: warning: process core pid ${corePid} killed by signal 9`),
      );
      let after = '';
      for (let i = 0; i < 60 && !after; i++) {
        after = await swaks(sys.port, 'a@example.test', 'after@remote.test').catch(() => '');
        if (!after) await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(after, await sys.log());
      // A message relayed just before the kill whose removal record was not yet synced is relayed once
      // more by the restarted core (at least once, never lost): such duplicates may arrive before 'after'.
      const isAfter = (m: { rcptTo: string[] }): boolean => m.rcptTo.includes('after@remote.test');
      let late = await relay.waitFor(5, 30_000);
      for (let n = 6; n <= 8 && !late.some(isAfter); n++) late = await relay.waitFor(n, 30_000);
      assert.ok(late.some(isAfter));
      const text = await sys.log();
      assert.match(text, new RegExp(`postfix/smtpd\\[${smtpdPid}\\]: ${after}: client=`), 'the same smtpd process');
    } finally {
      await sys.cleanup();
      await relay.close();
      await filter.close();
      await rm(tables, { recursive: true, force: true });
    }
  },
);
