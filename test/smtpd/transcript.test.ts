// notify_classes transcripts from smtpd over real sockets: which replies
// count as policy, protocol, resource, software or bounce; one transcript per
// session to the right postmaster address from the double-bounce sender;
// nothing for classes not asked for; AUTH secrets masked; notices bounded by
// smtpd_history_flush_threshold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorClass } from '../../src/daemons/smtpd/transcript.js';
import { content, eventually, RawClient, startSmtpd, type Harness, type RecordedMessage } from './harness.js';

const REJECT = {
  action: 'reject' as const,
  reply: { code: 554, dsn: '5.7.1', text: '<blocked@remote.test>: Recipient address rejected: no thanks' },
  logText: 'reject',
};

function notices(h: Harness): RecordedMessage[] {
  return h.cleanup.committed().filter((m) => m.req.origin === 'bounce');
}

async function session(h: Harness, lines: readonly string[]): Promise<string[]> {
  const c = await RawClient.connect(h.port);
  const replies = [await c.reply()];
  for (const l of lines) replies.push(await c.cmd(l));
  await c.waitClosed();
  return replies;
}

test('error classes from reply codes', () => {
  const r = (code: number, dsn: string) => ({ code, dsn, text: 'x' });
  assert.equal(errorClass(r(250, '2.1.5'), 'RCPT'), undefined);
  assert.equal(errorClass(r(421, '4.4.2'), 'DATA'), undefined);
  assert.equal(errorClass(r(554, '5.7.1'), 'RCPT'), 'policy');
  assert.equal(errorClass(r(450, '4.1.1'), 'RCPT'), 'policy');
  assert.equal(errorClass(r(452, '4.5.3'), 'RCPT'), 'policy');
  assert.equal(errorClass(r(500, '5.5.2'), 'UNKNOWN'), 'protocol');
  assert.equal(errorClass(r(503, '5.5.1'), 'DATA'), 'protocol');
  assert.equal(errorClass(r(554, '5.5.0'), 'RCPT'), 'protocol');
  assert.equal(errorClass(r(451, '4.3.0'), 'END-OF-MESSAGE'), 'resource');
  assert.equal(errorClass(r(452, '4.3.1'), 'END-OF-MESSAGE'), 'resource');
  assert.equal(errorClass(r(451, '4.3.5'), 'RCPT'), 'software');
  assert.equal(errorClass(r(550, '5.7.1'), 'END-OF-MESSAGE'), 'bounce');
  assert.equal(errorClass(r(552, '5.3.4'), 'END-OF-MESSAGE'), 'bounce');
});

test('notify_classes = policy: a rejected RCPT yields one transcript to error_notice_recipient', async () => {
  const h = await startSmtpd('notify_classes = policy\nerror_notice_recipient = hostmaster', {
    policy: (stage, facts) => (stage === 'rcpt' && facts.recipient === 'blocked@remote.test' ? REJECT : undefined),
  });
  try {
    const replies = await session(h, [
      'EHLO client.test',
      'MAIL FROM:<alice@example.test>',
      'RCPT TO:<blocked@remote.test>',
      'RCPT TO:<ok@remote.test>',
      'DATA',
      'Subject: hi\r\n\r\nbody\r\n.',
      'QUIT',
    ]);
    assert.match(replies[3] ?? '', /^554 5\.7\.1 /);
    assert.ok(await eventually(() => notices(h).length === 1));
    const n = notices(h)[0];
    assert.ok(n);
    assert.equal(n.req.sender, 'double-bounce@mx.example.test');
    assert.deepEqual(
      n.recipients.map((r) => r.address),
      ['hostmaster'],
    );
    const text = content(n);
    assert.match(text, /^Subject: Postern SMTP server: errors from localhost\[127\.0\.0\.1\]\r$/m);
    assert.match(text, /^To: hostmaster \(Postmaster\)\r$/m);
    assert.match(text, /errors of class\r\npolicy \(see notify_classes\)/);
    const transcript = text.split('\r\n').filter((l) => /^ (In: |Out:)/.test(l));
    assert.deepEqual(transcript.slice(0, 3), [
      ' Out: 220 mx.example.test ESMTP Postern',
      ' In:  EHLO client.test',
      ' Out: 250-mx.example.test',
    ]);
    assert.ok(transcript.includes(' In:  RCPT TO:<blocked@remote.test>'));
    assert.ok(transcript.includes(' Out: 554 5.7.1 <blocked@remote.test>: Recipient address rejected: no thanks'));
    assert.ok(transcript.includes(' In:  QUIT'));
    assert.ok(!text.includes('body'), 'message content is not part of the transcript');
    // The accepted message itself was queued as usual: one message plus one notice.
    assert.equal(h.cleanup.committed().length, 2);
  } finally {
    await h.close();
  }
});

test('protocol errors are reported only when protocol is asked for; AUTH secrets are masked', async () => {
  const without = await startSmtpd('notify_classes = policy');
  try {
    await session(without, ['EHLO client.test', 'FROB', 'AUTH PLAIN c2VjcmV0AHNlY3JldA==', 'QUIT']);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(notices(without).length, 0);
  } finally {
    await without.close();
  }
  const withProto = await startSmtpd('notify_classes = protocol');
  try {
    await session(withProto, ['EHLO client.test', 'FROB', 'AUTH PLAIN c2VjcmV0AHNlY3JldA==', 'QUIT']);
    assert.ok(await eventually(() => notices(withProto).length === 1));
    const text = content(notices(withProto)[0]!);
    assert.match(text, /^ In: {2}FROB\r\n Out: 500 5\.5\.2 Error: command not recognized\r$/m);
    assert.match(text, /^ In: {2}AUTH PLAIN \*\*\*\*\*\*\*\*\r$/m);
    assert.doesNotMatch(text, /c2VjcmV0/);
    assert.match(text, /errors of class\r\nprotocol /);
  } finally {
    await withProto.close();
  }
});

test('default notify_classes: a queue file write error is a resource notice; a clean session sends none', async () => {
  const h = await startSmtpd('');
  h.cleanup.commitVerdict = (m) =>
    m.req.origin === 'smtpd'
      ? { status: 'rejected', reply: { code: 451, dsn: '4.3.0', text: 'Error: queue file write error' } }
      : { status: 'queued', queueId: m.queueId };
  try {
    await session(h, ['HELO client.test', 'NOOP', 'QUIT']);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(notices(h).length, 0);
    const replies = await session(h, [
      'HELO client.test',
      'MAIL FROM:<a@example.test>',
      'RCPT TO:<b@example.test>',
      'DATA',
      'Subject: x\r\n\r\ny\r\n.',
      'QUIT',
    ]);
    assert.equal(replies[5], '451 4.3.0 Error: queue file write error');
    assert.ok(await eventually(() => notices(h).length === 1));
    const n = notices(h)[0]!;
    assert.deepEqual(
      n.recipients.map((r) => r.address),
      ['postmaster'],
    );
    assert.match(content(n), /errors of class\r\nresource /);
  } finally {
    await h.close();
  }
});

test('notify_classes = bounce: a message refused after its content goes to bounce_notice_recipient', async () => {
  const h = await startSmtpd('notify_classes = bounce\nbounce_notice_recipient = bounces-admin');
  h.cleanup.commitVerdict = (m) =>
    m.req.origin === 'smtpd'
      ? { status: 'rejected', reply: { code: 550, dsn: '5.7.1', text: 'message content rejected' } }
      : { status: 'queued', queueId: m.queueId };
  try {
    await session(h, [
      'HELO c',
      'MAIL FROM:<a@x.test>',
      'RCPT TO:<b@x.test>',
      'DATA',
      'Subject: x\r\n\r\ny\r\n.',
      'QUIT',
    ]);
    assert.ok(await eventually(() => notices(h).length === 1));
    assert.deepEqual(
      notices(h)[0]!.recipients.map((r) => r.address),
      ['bounces-admin'],
    );
  } finally {
    await h.close();
  }
});

test('smtpd_history_flush_threshold bounds each notice', async () => {
  const h = await startSmtpd(
    'notify_classes = protocol\nsmtpd_history_flush_threshold = 10\nsmtpd_junk_command_limit = 1000',
  );
  try {
    // 30 NOOPs: 60 transcript lines without an error; then one protocol error.
    await session(h, ['HELO c', ...Array.from({ length: 30 }, () => 'NOOP'), 'FROB', 'QUIT']);
    assert.ok(await eventually(() => notices(h).length === 1));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(notices(h).length, 1, 'history without errors is dropped, not mailed');
    const lines = content(notices(h)[0]!)
      .split('\r\n')
      .filter((l) => /^ (In: |Out:)/.test(l));
    assert.ok(lines.length <= 10, `${lines.length} lines`);
    assert.ok(lines.includes(' In:  FROB'));
  } finally {
    await h.close();
  }
});
