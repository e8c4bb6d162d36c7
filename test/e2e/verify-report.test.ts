// sendmail -bv end to end through `postfix start`, as root with real users:
// a local user, an unknown local user and a remote address at a recording
// receiver are verified, not delivered. The sender's mailbox gets one
// "Mail Delivery Status Report" with Action: deliverable/undeliverable per
// recipient; the receiver sees MAIL and RCPT but never DATA; nothing lands in
// the recipients' mailboxes; the log says status=deliverable/undeliverable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureUser, skipReason } from '../local/harness.js';
import { runBin } from '../postfix/run-bin.js';
import { e2eSkip, startMailSystem, stockMasterCf, type E2eSystem } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

const skip = skipReason() ?? e2eSkip();

test('sendmail -bv: the sender gets a delivery status report and nothing is delivered', { skip }, async (t) => {
  ensureUser('pstlocal1');
  ensureUser('pstlocal2');
  const receiver = await RecordingReceiver.start({ rejectRcpt: /^nobody@/ });
  const work = await mkdtemp(join(tmpdir(), 'postern-vrfy-'));
  await chmod(work, 0o755);
  const spool = join(work, 'mail');
  await mkdir(spool);
  await chmod(spool, 0o1777);
  const running: { sys?: E2eSystem } = {};
  t.after(async () => {
    await running.sys?.cleanup();
    await receiver.close();
    rmSync(work, { recursive: true, force: true });
  });
  const sys = await startMailSystem({
    mainCf: `myhostname = mx.example.test
mydestination = localhost
alias_maps =
alias_database =
local_recipient_maps =
home_mailbox =
mail_spool_directory = ${spool}
relayhost = [127.0.0.1]:${receiver.port}
`,
    masterCf: (port) => stockMasterCf(port),
  });
  running.sys = sys;
  const r = await runBin('sendmail', [
    '-C',
    sys.configDir,
    '-bv',
    '-f',
    'pstlocal1@localhost',
    'pstlocal2@localhost',
    'nosuchuser@localhost',
    'bob@remote.test',
    'nobody@remote.test',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Mail Delivery Status Report will be mailed to <pstlocal1@localhost>.\n');

  const box = join(spool, 'pstlocal1');
  const deadline = Date.now() + 30_000;
  while (!(existsSync(box) && readFileSync(box, 'utf8').includes('\nAction: deliverable'))) {
    if (Date.now() > deadline) throw new Error(`no report in ${box}; log:\n${await sys.log()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  const report = readFileSync(box, 'utf8');
  assert.match(report, /^Subject: Mail Delivery Status Report$/m);
  assert.match(report, /^Content-Type: multipart\/report; report-type=delivery-status;$/m);
  const block = (rcpt: string): string => {
    const m = new RegExp(`^Final-Recipient: rfc822; ${rcpt.replace(/\./g, '\\.')}\\n((?:.+\\n)+)`, 'm').exec(report);
    assert.ok(m, `no status block for ${rcpt}:\n${report}`);
    return m[1] ?? '';
  };
  assert.match(block('pstlocal2@localhost'), /^Action: deliverable\nStatus: 2\.0\.0\n/m);
  assert.match(block('pstlocal2@localhost'), /delivers to mailbox/);
  assert.match(block('nosuchuser@localhost'), /^Action: undeliverable\nStatus: 5\.1\.1\n/m);
  assert.match(block('nosuchuser@localhost'), /unknown user: "nosuchuser"/);
  assert.match(block('bob@remote.test'), /^Action: deliverable\nStatus: 2\.1\.5\n/m);
  assert.match(block('nobody@remote.test'), /^Action: undeliverable\nStatus: 5\.1\.1\n/m);
  assert.match(report, /<nosuchuser@localhost>: unknown user: "nosuchuser"/);
  // The probe sendmail made stands in for a message: its headers come back with the report.
  assert.match(report, /^Content-Type: text\/rfc822-headers$/m);
  assert.match(report, /^Subject: probe\nTo:\tpstlocal2@localhost,\n\tnosuchuser@localhost,\n/m);

  // Nothing delivered anywhere: no mailbox for the local recipient, no DATA at the remote server.
  assert.ok(!existsSync(join(spool, 'pstlocal2')), 'the local recipient got nothing');
  assert.equal(receiver.messages.length, 0, 'the remote server got no message');
  const verbs = receiver.commands.map((c) => c.slice(0, 4).toUpperCase());
  assert.ok(receiver.commands.includes('RCPT TO:<bob@remote.test>'), receiver.commands.join('\n'));
  assert.ok(!verbs.includes('DATA'), receiver.commands.join('\n'));

  const log = await sys.waitForLog(/: sender delivery status notification: \w+/);
  assert.match(
    log,
    /postfix\/local\[\d+\]: \w+: to=<pstlocal2@localhost>, relay=local, .*status=deliverable \(delivers to mailbox\)/,
  );
  assert.match(
    log,
    /postfix\/local\[\d+\]: \w+: to=<nosuchuser@localhost>, relay=local, .*status=undeliverable \(unknown user: "nosuchuser"\)/,
  );
  assert.match(
    log,
    /postfix\/smtp\[\d+\]: \w+: to=<bob@remote\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*status=deliverable/,
  );
  // The verify-only message itself is gone: the queue holds nothing but what the report left behind.
  const deadline2 = Date.now() + 20_000;
  for (;;) {
    const ids = (await readdir(join(sys.queueDir, 'maildrop'))).length;
    const q = await runBin('postqueue', ['-c', sys.configDir, '-p']);
    if (ids === 0 && /Mail queue is empty/.test(q.stdout)) break;
    if (Date.now() > deadline2) throw new Error(`queue not empty:\n${q.stdout}\n${await sys.log()}`);
    await new Promise((res) => setTimeout(res, 200));
  }
});
