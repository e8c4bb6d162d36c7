// bounce(8) notices parsed back: RFC 3464 structure (multipart/report with
// three parts), delivery-status fields, returned content per RET and
// bounce_size_limit, recipients chosen per NOTIFY and notify_classes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createBounceService, type NoticeRequest } from '../../src/daemons/bounce/bounce.js';
import { CapturingCleanup } from '../qmgr/fakes.js';

// Dates in notices are local time; pin the zone so expected text is fixed.
process.env.TZ = 'UTC';

const CF = 'myhostname = mail.example.com\nmydomain = example.com\n';
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

function service(extra = ''): {
  cleanup: CapturingCleanup;
  logger: MemoryLogger;
  svc: ReturnType<typeof createBounceService>;
} {
  const cleanup = new CapturingCleanup();
  const logger = new MemoryLogger('postfix/bounce');
  const svc = createBounceService({ config: Config.fromText(CF + extra), cleanup, logger, now: () => NOW });
  return { cleanup, logger, svc };
}

const original =
  'Subject: hello\r\nFrom: alice@example.com\r\nMessage-ID: <m1@example.com>\r\n\r\nline one\r\n--fake\r\nline three\r\n';

function request(over: Partial<NoticeRequest['message']> = {}, kind: NoticeRequest['kind'] = 'bounce'): NoticeRequest {
  return {
    kind,
    message: {
      queueId: '4F9D195432',
      sender: 'alice@example.com',
      arrivalTime: NOW - 60_000,
      size: Buffer.byteLength(original),
      openContent: async function* () {
        await Promise.resolve();
        const b = Buffer.from(original);
        yield b.subarray(0, 20);
        yield b.subarray(20);
      },
      ...over,
    },
    recipients: [
      {
        address: 'bob@remote.org',
        original: 'bobby@example.com',
        orcpt: 'rfc822;bobby@example.com',
        action: 'failed',
        dsn: '5.1.1',
        relay: 'mx.remote.org[192.0.2.7]:25',
        reason:
          'host mx.remote.org[192.0.2.7] said: 550 5.1.1 <bob@remote.org>: no such user (in reply to RCPT TO command)',
        remoteReply: '550 5.1.1 <bob@remote.org>: no such user',
      },
      {
        address: 'carol@local.test',
        original: 'carol@local.test',
        action: 'failed',
        dsn: '5.2.2',
        relay: 'local',
        reason: 'mailbox full',
      },
    ],
  };
}

interface Part {
  headers: string;
  body: string;
}

/** Split a multipart/report by its declared boundary. */
function parse(msg: string): { headers: string; parts: Part[] } {
  const sep = msg.indexOf('\r\n\r\n');
  const headers = msg.slice(0, sep);
  const boundary = /boundary="([^"]+)"/.exec(headers)?.[1];
  assert.ok(boundary, 'boundary declared');
  const body = msg.slice(sep + 4);
  const chunks = body.split(`\r\n--${boundary}`);
  assert.ok(chunks[chunks.length - 1]?.startsWith('--'), 'closing boundary present');
  const parts = chunks.slice(1, -1).map((c) => {
    const s = c.replace(/^\r\n/, '');
    const i = s.indexOf('\r\n\r\n');
    return { headers: s.slice(0, i), body: s.slice(i + 4) };
  });
  return { headers, parts };
}

test('non-delivery notice: headers, three parts, per-recipient delivery status, full message returned', async () => {
  const { cleanup, logger, svc } = service();
  await svc.notify(request());
  assert.equal(cleanup.injected.length, 1);
  const n = cleanup.injected[0];
  assert.ok(n);
  assert.equal(n.req.sender, '');
  assert.equal(n.req.origin, 'bounce');
  assert.deepEqual(
    n.recipients.map((r) => r.address),
    ['alice@example.com'],
  );
  const { headers, parts } = parse(n.content);
  assert.match(headers, /^Date: Thu, 15 Jan 2026 12:00:00 \+0000 \(UTC\)$/m);
  // cleanup appends @$myorigin to the bare MAILER-DAEMON, as it does for any local submission.
  assert.match(headers, /^From: MAILER-DAEMON \(Mail Delivery System\)$/m);
  assert.match(headers, /^Subject: Undelivered Mail Returned to Sender$/m);
  assert.match(headers, /^To: alice@example\.com$/m);
  assert.match(headers, /^Auto-Submitted: auto-replied$/m);
  assert.match(headers, /^Content-Type: multipart\/report; report-type=delivery-status;$/m);
  assert.equal(parts.length, 3);
  const [text, status, returned] = parts as [Part, Part, Part];
  assert.match(text.headers, /Content-Type: text\/plain; charset=us-ascii/);
  assert.match(text.body, /^This is the mail system at host mail\.example\.com\.\r\n/);
  assert.match(text.body, /The Postern program/);
  assert.match(
    text.body,
    /<bob@remote\.org> \(expanded from <bobby@example\.com>\): host mx\.remote\.org\[192\.0\.2\.7\] said: 550 5\.1\.1/,
  );
  assert.match(text.body, /<carol@local\.test>: mailbox full/);

  assert.match(status.headers, /Content-Type: message\/delivery-status/);
  const groups = status.body.trim().split('\r\n\r\n');
  assert.equal(groups.length, 3);
  assert.deepEqual(groups[0]?.split('\r\n'), [
    'Reporting-MTA: dns; mail.example.com',
    'X-Postfix-Queue-ID: 4F9D195432',
    'X-Postfix-Sender: rfc822; alice@example.com',
    'Arrival-Date: Thu, 15 Jan 2026 11:59:00 +0000 (UTC)',
  ]);
  assert.deepEqual(groups[1]?.split('\r\n'), [
    'Final-Recipient: rfc822; bob@remote.org',
    'Original-Recipient: rfc822;bobby@example.com',
    'Action: failed',
    'Status: 5.1.1',
    'Remote-MTA: dns; mx.remote.org',
    'Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.org>: no such user',
  ]);
  assert.deepEqual(groups[2]?.split('\r\n'), [
    'Final-Recipient: rfc822; carol@local.test',
    'Action: failed',
    'Status: 5.2.2',
    'Diagnostic-Code: X-Postfix; mailbox full',
  ]);
  assert.match(returned.headers, /Content-Type: message\/rfc822/);
  assert.ok(returned.body.startsWith('Subject: hello\r\n'));
  assert.ok(returned.body.includes('line one\r\n--fake\r\nline three'), 'the whole body is returned');
  assert.deepEqual(logger.texts(), ['4F9D195432: sender non-delivery notification: B0']);
});

test('an 8BITMIME original makes an 8BITMIME notice', async () => {
  const { cleanup, svc } = service();
  await svc.notify(request({ body: '8BITMIME', smtputf8: true }));
  const n = cleanup.injected[0];
  assert.equal(n?.req.body, '8BITMIME');
  assert.equal(n?.req.smtputf8, true);
  assert.match(n?.content ?? '', /^Content-Transfer-Encoding: 8bit$/m);
});

test('mail_name set in main.cf signs the notice', async () => {
  const { cleanup, svc } = service('mail_name = ExampleMTA\n');
  await svc.notify(request());
  assert.match(cleanup.injected[0]?.content ?? '', /The ExampleMTA program/);
});

test('RET=HDRS and messages over bounce_size_limit return only the headers', async () => {
  for (const [extra, over] of [
    ['', { ret: 'HDRS' as const }],
    ['bounce_size_limit = 50\n', {}],
  ] as const) {
    const { cleanup, svc } = service(extra);
    await svc.notify(request(over));
    const { parts } = parse(cleanup.injected[0]?.content ?? '');
    assert.match(parts[2]?.headers ?? '', /Content-Type: text\/rfc822-headers/);
    assert.ok(parts[2]?.body.includes('Message-ID: <m1@example.com>'), 'headers kept');
    assert.ok(!parts[2]?.body.includes('line one'), 'body dropped');
  }
});

test('a returned line equal to the boundary cannot end the part', async () => {
  const { cleanup, svc } = service();
  const boundary = `4F9D195432.${Math.floor(NOW / 1000)}/mail.example.com`;
  const evil = `Subject: x\r\n\r\n--${boundary}--\r\nafter\r\n`;
  await svc.notify(
    request({
      size: evil.length,
      openContent: async function* () {
        await Promise.resolve();
        yield Buffer.from(evil);
      },
    }),
  );
  const { parts } = parse(cleanup.injected[0]?.content ?? '');
  assert.equal(parts.length, 3);
  assert.ok(parts[2]?.body.includes('after'));
});

test('notify_classes = bounce adds a headers-only postmaster copy from the double-bounce sender', async () => {
  const { cleanup, logger, svc } = service('notify_classes = bounce\n');
  await svc.notify(request());
  assert.equal(cleanup.injected.length, 2);
  const pm = cleanup.injected[1];
  assert.deepEqual(
    pm?.recipients.map((r) => r.address),
    ['postmaster'],
  );
  assert.equal(pm?.req.sender, 'double-bounce@mail.example.com');
  assert.match(pm?.content ?? '', /Subject: Postmaster Copy: Undelivered Mail/);
  assert.match(pm?.content ?? '', /Content-Type: text\/rfc822-headers/);
  assert.deepEqual(logger.texts(), [
    '4F9D195432: sender non-delivery notification: B0',
    '4F9D195432: postmaster non-delivery notification: B1',
  ]);
});

test('no notice for NOTIFY=NEVER, for the null sender without 2bounce, or from the double-bounce sender', async () => {
  const a = service();
  const req = request();
  await a.svc.notify({ ...req, recipients: req.recipients.map((r) => ({ ...r, notify: ['NEVER' as const] })) });
  assert.equal(a.cleanup.injected.length, 0);
  const b = service();
  await b.svc.notify(request({ sender: '' }));
  assert.equal(b.cleanup.injected.length, 0);
  const c = service('notify_classes = bounce, 2bounce\n');
  await c.svc.notify(request({ sender: 'double-bounce@mail.example.com' }));
  assert.equal(c.cleanup.injected.length, 0);
  assert.deepEqual(c.logger.texts(), ['4F9D195432: undeliverable postmaster notification discarded']);
});

test('delay notices go only to recipients that asked for DELAY (or gave no NOTIFY)', async () => {
  const { cleanup, svc } = service();
  const req = request({}, 'delay');
  await svc.notify({
    ...req,
    recipients: [
      { ...req.recipients[0]!, action: 'delayed', dsn: '4.4.1', notify: ['FAILURE'] },
      { ...req.recipients[1]!, action: 'delayed', dsn: '4.2.2' },
    ],
  });
  const c = cleanup.injected[0]?.content ?? '';
  assert.doesNotMatch(c, /bob@remote\.org/);
  assert.match(c, /Final-Recipient: rfc822; carol@local\.test\r\nAction: delayed\r\nStatus: 4\.2\.2/);
  assert.match(c, /Will-Retry-Until: Tue, 20 Jan 2026 11:59:00 \+0000 \(UTC\)/);
});

test('line breaks in a remote reply cannot inject headers or MIME structure', async () => {
  const { cleanup, svc } = service();
  const req = request();
  await svc.notify({
    ...req,
    recipients: [{ ...req.recipients[0]!, reason: 'bad\r\nX-Injected: yes', remoteReply: '550 no\r\n\r\n--evil' }],
  });
  const c = cleanup.injected[0]?.content ?? '';
  assert.doesNotMatch(c, /^X-Injected/m);
  assert.match(c, /Diagnostic-Code: smtp; 550 no --evil\r\n/);
  assert.equal(parse(c).parts.length, 3);
});
