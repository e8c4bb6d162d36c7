// The classic after-queue content filter (FILTER_README), end to end through
// `postfix start`: main.cf content_filter sends mail received on the public
// smtpd to a `scan` smtp transport; the filter (here: a recording receiver
// plus a python3 smtplib re-injection the test drives) hands it back to a
// second smtpd entry with `-o content_filter=` and receive_override_options,
// and the mail is delivered once, never filtered twice. The same entry's
// overrides switch off header_checks and virtual alias mapping for it alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../master/harness.js';
import { e2eSkip, run, startMailSystem, swaks } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

/** python3 smtplib: send stdin as the message; prints the server's queue ID. */
const REINJECT = `
import smtplib, sys
port, sender, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
data = sys.stdin.buffer.read()
with smtplib.SMTP('127.0.0.1', port, timeout=20) as s:
    s.ehlo('filter.example.test')
    s.mail(sender)
    for r in rcpts:
        code, text = s.rcpt(r)
        if code != 250: sys.exit('rcpt %s: %d %s' % (r, code, text))
    code, text = s.data(data)
    print(code, text.decode())
`;

test(
  'content_filter: mail goes through the filter once, comes back on the re-injection port and is delivered',
  { skip: e2eSkip('swaks', 'python3') },
  async () => {
    const filter = await RecordingReceiver.start();
    const receiver = await RecordingReceiver.start();
    const reinject = await freePort();
    // Tables outside the system's directory, readable by mail_owner.
    const tables = await mkdtemp(join(tmpdir(), 'postern-filter-'));
    await chmod(tables, 0o755);
    await writeFile(join(tables, 'virtual'), 'list@example.test bob@remote.test\n');
    await writeFile(join(tables, 'header_checks'), '/^X-Filtered:/ REJECT already filtered\n');
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination =
relayhost = [127.0.0.1]:${receiver.port}
content_filter = scan:[127.0.0.1]:${filter.port}
virtual_alias_maps = texthash:${tables}/virtual
header_checks = regexp:${tables}/header_checks`,
      masterCfExtra: `scan      unix  -       -       n       -       10      smtp
  -o smtp_send_xforward_command=yes
  -o disable_mime_output_conversion=yes
127.0.0.1:${reinject} inet n - n - 10 smtpd
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters,no_address_mappings
  -o mynetworks=127.0.0.0/8
  -o smtpd_authorized_xforward_hosts=127.0.0.0/8
`,
    });
    try {
      // 1. The public port: mapped (virtual alias), checked, then sent to the filter, not to the relayhost.
      const id = await swaks(sys.port, 'alice@example.test', 'list@example.test');
      const [scanned] = await filter.waitFor(1);
      assert.equal(scanned?.mailFrom, 'alice@example.test');
      assert.deepEqual(scanned?.rcptTo, ['bob@remote.test']);
      assert.match(scanned?.data ?? '', /^Subject: e2e test\r$/m);
      await sys.waitForLog(
        new RegExp(
          `${id}: to=<bob@remote\\.test>, orig_to=<list@example\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${filter.port}, .*status=sent`,
        ),
      );
      assert.equal(receiver.messages.length, 0, 'nothing bypasses the filter');

      // 2. The filter re-injects with a header of its own; header_checks would reject it on the public port.
      const refused = await run('swaks', [
        ...['--server', `127.0.0.1:${sys.port}`, '--from', 'alice@example.test', '--to', 'bob@remote.test'],
        ...['--header', 'X-Filtered: yes'],
      ]);
      assert.match(refused.stdout, /<\*\* +550 5\.7\.1 already filtered/);
      const back = await run(
        'python3',
        ['-c', REINJECT, String(reinject), scanned?.mailFrom ?? '', ...(scanned?.rcptTo ?? [])],
        `X-Filtered: yes\r\n${scanned?.data ?? ''}`,
      );
      assert.equal(back.code, 0, back.stderr);
      const newId = /^250 2\.0\.0 Ok: queued as (\w+)$/m.exec(back.stdout)?.[1];
      assert.ok(newId, back.stdout);
      const [final] = await receiver.waitFor(1);
      assert.deepEqual(final?.rcptTo, ['bob@remote.test']);
      assert.match(final?.data ?? '', /^X-Filtered: yes\r$/m);
      await sys.waitForLog(new RegExp(`postfix/qmgr\\[\\d+\\]: ${newId}: removed`));
      assert.equal(filter.messages.length, 1, 'the filtered copy is not filtered again');

      // 3. no_address_mappings on the re-injection port only: the alias stays as given there.
      await swaks(reinject, 'carol@example.test', 'list@example.test');
      const [, direct] = await receiver.waitFor(2);
      assert.deepEqual(direct?.rcptTo, ['list@example.test']);
      assert.equal(filter.messages.length, 1);
    } finally {
      await sys.cleanup();
      await filter.close();
      await receiver.close();
      await rm(tables, { recursive: true, force: true });
    }
  },
);
