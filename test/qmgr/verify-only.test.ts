// qmgr with sendmail -bv (verify-only) mail: every agent request carries
// verifyOnly, the log says status=deliverable/undeliverable, the sender gets
// one "Mail Delivery Status Report" listing every recipient whatever its
// NOTIFY, temporary failures are reported rather than retried, and the
// message is removed. Ordinary mail beside it is unaffected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './harness.js';

test('verify-only mail: agents are asked in verify mode and the sender gets one status report', async () => {
  const { mapDict } = await import('../trivial-rewrite/map-dict.js');
  const h = await harness('transport_maps = hash:/t\n', {
    tables: { 'hash:/t': mapDict('hash:/t', { 'fail.test': 'error:5.1.2 no such domain' }) },
  });
  h.smtp.script = (req, r) =>
    r.address.startsWith('soft')
      ? { status: 'deferred', dsn: '4.4.1', relay: 'none', reason: 'connect to remote.org[192.0.2.1]:25: refused' }
      : { status: 'sent', dsn: '2.1.5', relay: `${req.nexthop}[192.0.2.1]:25`, reason: '250 2.1.5 Ok' };
  const id = h.store.add({
    sender: 'alice@example.com',
    verifyOnly: true,
    recipients: [{ address: 'bob@remote.org', notify: ['NEVER'] }, 'soft@remote.org', 'x@fail.test', 'carol@localhost'],
  });
  await h.qmgr.whenIdle();

  assert.ok(h.smtp.requests.length > 0 && h.smtp.requests.every((r) => r.verifyOnly === true));
  assert.ok(h.local.requests.length === 1 && h.local.requests[0]?.verifyOnly === true);
  const smtp = h.lines('smtp').join('\n');
  assert.match(
    smtp,
    new RegExp(`^${id}: to=<bob@remote\\.org>, .*dsn=2\\.1\\.5, status=deliverable \\(250 2\\.1\\.5 Ok\\)$`, 'm'),
  );
  assert.match(smtp, new RegExp(`^${id}: to=<soft@remote\\.org>, .*dsn=4\\.4\\.1, status=undeliverable \\(`, 'm'));
  assert.match(
    h.lines('error').join('\n'),
    /to=<x@fail\.test>, .*dsn=5\.1\.2, status=undeliverable \(no such domain\)/,
  );
  assert.match(h.lines('local').join('\n'), /to=<carol@localhost>, .*status=deliverable \(delivered to mailbox\)/);
  assert.doesNotMatch(h.lines().join('\n'), /status=(sent|bounced|deferred)/);

  assert.equal(h.cleanup.injected.length, 1, 'one report, no bounce or delay notice');
  const report = h.cleanup.injected[0];
  assert.equal(report?.req.sender, '');
  assert.deepEqual(
    report?.recipients.map((r) => r.address),
    ['alice@example.com'],
  );
  const text = report?.content ?? '';
  assert.match(text, /^Subject: Mail Delivery Status Report\r$/m);
  for (const [rcpt, action, status] of [
    ['bob@remote.org', 'deliverable', '2.1.5'],
    ['soft@remote.org', 'undeliverable', '4.4.1'],
    ['x@fail.test', 'undeliverable', '5.1.2'],
    ['carol@localhost', 'deliverable', '2.0.0'],
  ] as const) {
    assert.match(
      text,
      new RegExp(
        `^Final-Recipient: rfc822; ${rcpt.replace(/\./g, '\\.')}\r\nAction: ${action}\r\nStatus: ${status.replace(/\./g, '\\.')}\r$`,
        'm',
      ),
    );
  }
  assert.match(h.lines('bounce').join('\n'), new RegExp(`${id}: sender delivery status notification: B0`));
  // The temporary failure is an answer, not a reason to try again.
  assert.equal(h.store.messages.size, 0);
  assert.deepEqual(h.store.removed, [id]);
  const asked = h.smtp.requests.length;
  h.clock.advance(3_600_000);
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, asked);
});

test('verify-only mail from the null sender produces no report; ordinary mail is not in verify mode', async () => {
  const h = await harness();
  const v = h.store.add({ sender: '', verifyOnly: true, recipients: ['bob@remote.org'] });
  const n = h.store.add({ sender: 'alice@example.com', recipients: ['carol@remote.org'] });
  await h.qmgr.whenIdle();
  assert.equal(h.cleanup.injected.length, 0);
  assert.deepEqual(h.store.removed.sort(), [v, n].sort());
  const byId = new Map(h.smtp.requests.map((r) => [r.queueId, r]));
  assert.equal(byId.get(v)?.verifyOnly, true);
  assert.equal(byId.get(n)?.verifyOnly, undefined);
  assert.match(h.lines('smtp').join('\n'), new RegExp(`${n}: to=<carol@remote\\.org>, .*status=sent`));
});
