// sendmail mail that cleanup refuses is returned to the submitting user, end
// to end through `postfix start`: header_checks REJECT and a message over
// cleanup's message_size_limit (sendmail's own limit is main.cf's, larger)
// each come back as an RFC 3464 report from the null sender, delivered to
// the sender's relayhost; nothing stays in maildrop/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBin } from '../postfix/run-bin.js';
import { e2eSkip, startMailSystem, stockMasterCf } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

test('sendmail: refused by header_checks or size, the message bounces to its sender', { skip: e2eSkip() }, async () => {
  const receiver = await RecordingReceiver.start();
  const tables = await mkdtemp(join(tmpdir(), 'postern-pickup-'));
  await chmod(tables, 0o755);
  await writeFile(join(tables, 'header_checks'), '/^Subject: .*forbidden/ REJECT no forbidden subjects here\n');
  const sys = await startMailSystem({
    mainCf: `myhostname = mx.example.test
mydestination =
relayhost = [127.0.0.1]:${receiver.port}
header_checks = regexp:${tables}/header_checks
bounce_size_limit = 1000`,
    masterCf: (port) => stockMasterCf(port).replace(/^cleanup .*$/m, (line) => `${line}\n  -o message_size_limit=8000`),
  });
  const send = (subject: string, body: string) =>
    runBin('sendmail', ['-C', sys.configDir, '-f', 'alice@example.test', 'bob@remote.test'], {
      input: `Subject: ${subject}\n\n${body}\n`,
    });
  try {
    const first = await send('a forbidden subject', 'short');
    assert.equal(first.code, 0, first.stderr);
    const [dsn] = await receiver.waitFor(1).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await sys.log()}`);
    });
    assert.equal(dsn?.mailFrom, '');
    assert.deepEqual(dsn?.rcptTo, ['alice@example.test']);
    assert.match(dsn?.data ?? '', /^Content-Type: multipart\/report; report-type=delivery-status;/m);
    assert.match(dsn?.data ?? '', /^Final-Recipient: rfc822; bob@remote\.test\r$/m);
    assert.match(dsn?.data ?? '', /^Status: 5\.7\.1\r$/m);
    assert.match(dsn?.data ?? '', /no forbidden subjects here/);
    assert.match(dsn?.data ?? '', /^Subject: a forbidden subject\r$/m, 'the refused message is returned');
    const log = await sys.waitForLog(/postfix\/bounce\[\d+\]: (\w+): sender non-delivery notification: \w+/);
    const id = /postfix\/pickup\[\d+\]: (\w+): uid=\d+ from=<alice@example\.test>/.exec(log)?.[1];
    assert.ok(id, log);
    assert.match(
      log,
      new RegExp(
        `postfix/cleanup\\[\\d+\\]: ${id}: to=<bob@remote\\.test>, relay=none, .*dsn=5\\.7\\.1, status=bounced \\(no forbidden subjects here\\)`,
      ),
    );

    const big = await send('large', `${'x'.repeat(70)}\n`.repeat(200));
    assert.equal(big.code, 0, big.stderr);
    const [, tooBig] = await receiver.waitFor(2).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await sys.log()}`);
    });
    assert.deepEqual(tooBig?.rcptTo, ['alice@example.test']);
    assert.match(tooBig?.data ?? '', /^Status: 5\.3\.4\r$/m);
    assert.match(tooBig?.data ?? '', /message file too big/);
    assert.deepEqual(await readdir(join(sys.queueDir, 'maildrop')), []);
    assert.equal(receiver.messages.length, 2, 'the refused messages themselves are never delivered');
  } finally {
    await sys.cleanup();
    await receiver.close();
    await rm(tables, { recursive: true, force: true });
  }
});
