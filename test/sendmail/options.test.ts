// sendmail(1) command-line semantics as Postfix documents them: mode letters,
// -q forms, sender/recipient handling, ignored Sendmail options, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSendmailArgs, splitAddressList } from '../../src/commands/sendmail/options.js';
import { CommandFailure, EX_USAGE } from '../../src/commands/sendmail/sysexits.js';
import { canonicalLines } from '../../src/commands/sendmail/message-input.js';

test('default mode enqueues to the operands; -oi and -i both ignore dots; -r is -f', () => {
  const o = parseSendmailArgs(['-oi', '-r', '<alice@example.com>', '-F', 'Alice A', 'bob@example.org'], 'sendmail');
  assert.equal(o.mode, 'enqueue');
  assert.equal(o.ignoreDots, true);
  assert.equal(o.sender, 'alice@example.com');
  assert.equal(o.fullName, 'Alice A');
  assert.deepEqual(o.recipients, ['bob@example.org']);
  assert.equal(parseSendmailArgs(['-i', 'x@y'], 'sendmail').ignoreDots, true);
  assert.equal(parseSendmailArgs(['x@y'], 'sendmail').ignoreDots, false);
});

test('bundled flags, attached and separate arguments, ignored Sendmail options', () => {
  const o = parseSendmailArgs(
    ['-tvi', '-falice@example.com', '-o7', '-om', '-O', 'Foo=bar', '-L', 'x', '-h', '3'],
    'x',
  );
  assert.equal(o.extractRecipients, true);
  assert.equal(o.ignoreDots, true);
  assert.equal(o.verbose, 1);
  assert.equal(o.sender, 'alice@example.com');
  assert.deepEqual(o.recipients, []);
});

test('mode letters and command names', () => {
  assert.equal(parseSendmailArgs(['-bp'], 'sendmail').mode, 'mailq');
  assert.equal(parseSendmailArgs([], 'mailq').mode, 'mailq');
  assert.equal(parseSendmailArgs(['-bi'], 'sendmail').mode, 'newaliases');
  assert.equal(parseSendmailArgs(['-I'], 'sendmail').mode, 'newaliases');
  assert.equal(parseSendmailArgs([], 'newaliases').mode, 'newaliases');
  assert.equal(parseSendmailArgs(['-bs'], 'sendmail').mode, 'smtp');
  assert.equal(parseSendmailArgs(['-bm', 'a@b'], 'sendmail').mode, 'enqueue');
  assert.equal(parseSendmailArgs(['-bv', 'a@b'], 'sendmail').mode, 'verify');
});

test('-q flushes; -qRsite and -qIid narrow it; -q with -bd is a daemon interval', () => {
  assert.equal(parseSendmailArgs(['-q'], 'sendmail').mode, 'flush');
  const r = parseSendmailArgs(['-qRexample.org'], 'sendmail');
  assert.equal(r.mode, 'flush');
  assert.equal(r.flushSite, 'example.org');
  assert.equal(parseSendmailArgs(['-qIABC123'], 'sendmail').flushQueueId, 'ABC123');
  assert.equal(parseSendmailArgs(['-bd', '-q30m'], 'sendmail').mode, 'daemon');
  assert.equal(parseSendmailArgs(['-q1h'], 'sendmail').mode, 'flush');
});

test('DSN options are validated', () => {
  const o = parseSendmailArgs(['-N', 'success,delay', '-R', 'hdrs', '-V', 'env-1', '-B', '8bitmime', 'a@b'], 's');
  assert.deepEqual(o.notify, ['SUCCESS', 'DELAY']);
  assert.equal(o.ret, 'HDRS');
  assert.equal(o.envid, 'env-1');
  assert.equal(o.body, '8BITMIME');
  for (const bad of [
    ['-N', 'never,success'],
    ['-N', 'sometimes'],
    ['-R', 'all'],
    ['-B', '9bit'],
    ['-bz'],
    ['-k'],
    ['-f'],
  ]) {
    assert.throws(
      () => parseSendmailArgs(bad, 'sendmail'),
      (e: unknown) => e instanceof CommandFailure && e.status === EX_USAGE,
      bad.join(' '),
    );
  }
});

test('command-line recipients may be address lists with phrases and quoted commas', () => {
  assert.deepEqual(splitAddressList('a@x, "Doe, J" <j@y>,<k@z>'), ['a@x', 'j@y', 'k@z']);
  assert.deepEqual(parseSendmailArgs(['--', '-dash@x', 'b@y'], 'sendmail').recipients, ['-dash@x', 'b@y']);
});

test('message input: CRLF lines, the lone dot, a leading mbox From line dropped', () => {
  const c = (s: string, i = false): string => canonicalLines(Buffer.from(s), i).toString();
  assert.equal(
    c('From x Mon Jan  1 00:00:00 2024\nSubject: a\n\nb\r\nFrom me\n'),
    'Subject: a\r\n\r\nb\r\nFrom me\r\n',
  );
  assert.equal(c('a\n.\nb\n'), 'a\r\n');
  assert.equal(c('a\n.\nb', true), 'a\r\n.\r\nb\r\n');
  assert.equal(c('a\n..\n'), 'a\r\n..\r\n');
  assert.equal(c('no newline at end'), 'no newline at end\r\n');
});
