// notify_classes and bounce_template_file end to end through `postfix start`:
// a client rejected by a restriction (python3 smtplib) produces exactly one
// session transcript for the postmaster with notify_classes = policy, and a
// bounce_template_file (with UTF-8 text) changes the text of a real bounce of
// sendmail mail while the report stays a valid RFC 3464 multipart/report, as
// Python's email package parses it. The mail leaves through the relayhost, a
// recording receiver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBin } from '../postfix/run-bin.js';
import { e2eSkip, run, startMailSystem } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

const SMTPLIB = `
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='client.example.test', timeout=30)
s.ehlo()
s.mail('alice@example.test')
print(s.rcpt('blocked@remote.test')[0])
print(s.rcpt('ok@remote.test')[0])
print(s.data(b'Subject: policy test\\r\\n\\r\\nhello\\r\\n')[0])
s.quit()
`;

/** Parses a DSN with Python's email package and reports its structure as JSON. */
const CHECK_DSN = `
import email, json, sys
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
parts = list(m.iter_parts())
ds = parts[1].get_payload() if len(parts) > 1 else []
defects = [str(d) for d in m.defects] + [str(d) for p in parts for d in p.defects]
print(json.dumps({
  'type': m.get_content_type(),
  'reportType': m.get_param('report-type'),
  'subject': str(m['Subject']),
  'from': str(m['From']),
  'parts': [p.get_content_type() for p in parts],
  'charset': parts[0].get_content_charset() if parts else None,
  'text': parts[0].get_content() if parts else '',
  'perMessage': dict(ds[0].items()) if ds else {},
  'perRecipient': [dict(b.items()) for b in ds[1:]],
  'defects': defects,
}))
`;

test(
  'notify_classes = policy: one transcript of the rejected session reaches the postmaster',
  { skip: e2eSkip('python3') },
  async () => {
    const receiver = await RecordingReceiver.start();
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination =
relayhost = [127.0.0.1]:${receiver.port}
notify_classes = policy
error_notice_recipient = pm@admin.test
smtpd_recipient_restrictions = check_recipient_access inline:{ { blocked@remote.test = REJECT not wanted here } }, permit_mynetworks, reject_unauth_destination`,
    });
    try {
      const r = await run('python3', ['-c', SMTPLIB, String(sys.port)]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['554', '250', '250']);
      const msgs = await receiver.waitFor(2).catch(async (e: Error) => {
        throw new Error(`${e.message}\n${await sys.log()}`);
      });
      const notice = msgs.find((m) => m.rcptTo.includes('pm@admin.test'));
      assert.ok(notice, JSON.stringify(msgs.map((m) => m.rcptTo)));
      assert.equal(notice.mailFrom, 'double-bounce@mx.example.test');
      const d = notice.data;
      assert.match(d, /^Subject: Postern SMTP server: errors from unknown\[127\.0\.0\.1\]\r$/m);
      // cleanup completed the bare MAILER-DAEMON with $myorigin.
      assert.match(d, /^From: MAILER-DAEMON@mx\.example\.test \(Mail Delivery System\)\r$/m);
      assert.match(d, /^ In: {2}rcpt TO:<blocked@remote\.test>\r$/m); // as smtplib spells it
      assert.match(d, /^ Out: 554 5\.7\.1 <blocked@remote\.test>: Recipient address rejected: not wanted here\r$/m);
      assert.match(d, /^ In: {2}quit\r$/m);
      assert.doesNotMatch(d, /hello/);
      // Once the session's notice is delivered, no second one follows.
      const log = await sys.waitForLog(/status=sent[\s\S]*status=sent/);
      assert.equal((log.match(/: from=<double-bounce@mx\.example\.test>/g) ?? []).length, 1, log);
      assert.equal(receiver.messages.length, 2);
    } finally {
      await sys.cleanup();
      await receiver.close();
    }
  },
);

test(
  'bounce_template_file changes the text of a real bounce; the report stays valid RFC 3464',
  { skip: e2eSkip('python3') },
  async () => {
    const receiver = await RecordingReceiver.start();
    const tables = await mkdtemp(join(tmpdir(), 'postern-tpl-e2e-'));
    await chmod(tables, 0o755);
    await writeFile(join(tables, 'header_checks'), '/^Subject: .*forbidden/ REJECT no forbidden subjects\n');
    await writeFile(
      join(tables, 'bounce.cf'),
      [
        'failure_template = <<EOF',
        'Charset: utf-8',
        'Subject: Nicht zustellbar / undeliverable',
        '',
        'Grüße von $myhostname: Ihre Nachricht kam nicht an.',
        'Wir versuchen es $maximal_queue_lifetime_days Tage lang.',
        'EOF',
        '',
      ].join('\n'),
    );
    await chmod(join(tables, 'bounce.cf'), 0o644);
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination =
relayhost = [127.0.0.1]:${receiver.port}
header_checks = regexp:${tables}/header_checks
bounce_template_file = ${tables}/bounce.cf
maximal_queue_lifetime = 4d`,
    });
    try {
      const sent = await runBin('sendmail', ['-C', sys.configDir, '-f', 'alice@example.test', 'bob@remote.test'], {
        input: 'Subject: a forbidden subject\n\nbody\n',
      });
      assert.equal(sent.code, 0, sent.stderr);
      const [dsn] = await receiver.waitFor(1).catch(async (e: Error) => {
        throw new Error(`${e.message}\n${await sys.log()}`);
      });
      assert.ok(dsn);
      assert.equal(dsn.mailFrom, '');
      assert.deepEqual(dsn.rcptTo, ['alice@example.test']);
      const py = await run('python3', ['-c', CHECK_DSN], dsn.data);
      assert.equal(py.code, 0, py.stderr);
      const r = JSON.parse(py.stdout) as {
        type: string;
        reportType: string;
        subject: string;
        from: string;
        parts: string[];
        charset: string;
        text: string;
        perMessage: Record<string, string>;
        perRecipient: Record<string, string>[];
        defects: string[];
      };
      assert.deepEqual(r.defects, []);
      assert.equal(r.type, 'multipart/report');
      assert.equal(r.reportType, 'delivery-status');
      assert.deepEqual(r.parts, ['text/plain', 'message/delivery-status', 'message/rfc822']);
      assert.equal(r.subject, 'Nicht zustellbar / undeliverable');
      assert.equal(r.from, 'MAILER-DAEMON@mx.example.test');
      assert.match(dsn.data, /^From: MAILER-DAEMON@mx\.example\.test \(Mail Delivery System\)\r$/m);
      assert.equal(r.charset, 'utf-8');
      assert.match(
        r.text,
        /^Grüße von mx\.example\.test: Ihre Nachricht kam nicht an\.\r?\nWir versuchen es 4 Tage lang\./,
      );
      assert.match(r.text, /<bob@remote\.test>: no forbidden subjects/);
      assert.equal(r.perMessage['Reporting-MTA'], 'dns; mx.example.test');
      assert.equal(r.perRecipient.length, 1);
      assert.equal(r.perRecipient[0]?.['Final-Recipient'], 'rfc822; bob@remote.test');
      assert.equal(r.perRecipient[0]?.['Action'], 'failed');
      assert.equal(r.perRecipient[0]?.['Status'], '5.7.1');
      assert.doesNotMatch(await sys.log(), /warning: .*bounce\.cf/);
    } finally {
      await sys.cleanup();
      await receiver.close();
      await rm(tables, { recursive: true, force: true });
    }
  },
);
