// Pure parts of local(8) that need no root: alias and .forward item syntax,
// $name expansion for forward_path/luser_relay, the bytes a mailbox gets,
// Delivered-To: loop detection and the sysexits table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseAliasValue } from '../../src/daemons/local/alias-value.js';
import { expandDeliveryVars } from '../../src/daemons/local/delivery-vars.js';
import { asctime, deliveredToSet, mailCopy, toUnixLines } from '../../src/daemons/local/mail-copy.js';
import { commandOutcome, sysexitDetail } from '../../src/daemons/local/command.js';

test('alias values: addresses, |command, /file, :include:, \\user, quoted items', () => {
  assert.deepEqual(
    parseAliasValue(
      'joe, "|/usr/bin/vacation -a joe", /var/log/mail.archive, :include:/etc/lists/staff, \\joe',
      'alias',
    ),
    [
      { kind: 'address', address: 'joe', noAlias: false },
      { kind: 'command', command: '/usr/bin/vacation -a joe' },
      { kind: 'file', path: '/var/log/mail.archive' },
      { kind: 'include', path: '/etc/lists/staff' },
      { kind: 'address', address: 'joe', noAlias: true },
    ],
  );
  assert.deepEqual(
    parseAliasValue('# comment\n\na@example.com b@example.com\n<c@example.com>\n|/usr/bin/procmail -f-\n', 'file'),
    [
      { kind: 'address', address: 'a@example.com', noAlias: false },
      { kind: 'address', address: 'b@example.com', noAlias: false },
      { kind: 'address', address: 'c@example.com', noAlias: false },
      { kind: 'command', command: '/usr/bin/procmail -f-' },
    ],
  );
  assert.deepEqual(parseAliasValue(' , ,"", |', 'alias'), []);
});

test('alias/.forward parsing never throws and yields only well-formed items', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), fc.boolean(), (text, file) => {
      for (const item of parseAliasValue(text, file ? 'file' : 'alias')) {
        if (item.kind === 'command') assert.ok(item.command.length > 0);
        if (item.kind === 'file') assert.ok(item.path.startsWith('/'));
        if (item.kind === 'include') assert.ok(item.path.length > 0);
        if (item.kind === 'address') assert.ok(item.address.length > 0 || item.noAlias);
      }
    }),
    { numRuns: 300 },
  );
});

test('forward_path expansion: ${name?text}, ${name:text}, filter', () => {
  const vars = { home: '/home/joe', user: 'joe', extension: 'lists', recipient_delimiter: '+' };
  const path = '$home/.forward${recipient_delimiter}${extension}';
  assert.equal(expandDeliveryVars(path, vars), '/home/joe/.forward+lists');
  assert.equal(expandDeliveryVars(path, { ...vars, extension: '', recipient_delimiter: '' }), '/home/joe/.forward');
  assert.equal(expandDeliveryVars('${extension?+$extension}${extension:none}', vars), '+lists');
  assert.equal(expandDeliveryVars('${extension:none}', { extension: '' }), 'none');
  assert.equal(expandDeliveryVars('$user', { user: 'a;rm -rf' }, 'abcdefghijklmnopqrstuvwxyz'), 'a_rm__rf');
  assert.equal(expandDeliveryVars('$$HOME and $unknown', {}), '$HOME and ');
});

test('mailbox bytes: From_ line, headers, >From quoting, blank line; CRLF becomes LF', () => {
  const lf = toUnixLines(Buffer.from('Subject: x\r\n\r\nFrom me\r\n>From you\r\nlast'));
  assert.equal(lf.toString(), 'Subject: x\n\nFrom me\n>From you\nlast\n');
  const when = new Date(2026, 10, 6, 1, 2, 3);
  assert.equal(asctime(when), 'Fri Nov  6 01:02:03 2026');
  const mbox = mailCopy(lf, {
    fromLine: true,
    mboxQuote: true,
    returnPath: true,
    deliveredTo: 'Joe@Example.COM',
    sender: '',
    time: when,
  });
  assert.equal(
    mbox.toString(),
    'From MAILER-DAEMON  Fri Nov  6 01:02:03 2026\nReturn-Path: <>\nDelivered-To: joe@example.com\nSubject: x\n\n>From me\n>From you\nlast\n\n',
  );
  const injected = mailCopy(lf, { returnPath: true, sender: 'a@b\r\nBcc: evil', time: when });
  assert.ok(injected.toString().startsWith('Return-Path: <a@b Bcc: evil>\nSubject: x\n'));
});

test('Delivered-To: values are found in the header only, folded and case-insensitive', () => {
  const msg = Buffer.from(
    'Received: x\r\nDelivered-To: A@Example.com\r\ndelivered-to:\r\n b@example.com\r\n\r\nDelivered-To: body@example.com\r\n',
  );
  assert.deepEqual([...deliveredToSet(msg)].sort(), ['a@example.com', 'b@example.com']);
});

test('exit statuses map through sysexits: EX_TEMPFAIL defers, others bounce', () => {
  assert.deepEqual(sysexitDetail(75), { dsn: '4.3.0', text: 'temporary failure' });
  assert.deepEqual(sysexitDetail(67), { dsn: '5.1.1', text: 'user unknown' });
  assert.equal(sysexitDetail(1).dsn, '5.3.0');
  assert.equal(commandOutcome({ kind: 'exit', code: 75, output: '' }, 'x', '').status, 'deferred');
  assert.equal(
    commandOutcome({ kind: 'exit', code: 77, output: 'no' }, 'x', '').reason,
    'Command died with status 77: "x". Command output: no',
  );
  assert.equal(commandOutcome({ kind: 'timeout', output: '' }, 'x', '').status, 'deferred');
  assert.deepEqual(commandOutcome({ kind: 'ok' }, 'x', 'delivered to command: x'), {
    status: 'sent',
    dsn: '2.0.0',
    reason: 'delivered to command: x',
  });
});

test('createDeliveryAgent picks local, virtual or pipe by the master.cf command', async () => {
  const { createDeliveryAgent } = await import('../../src/daemons/local/agent-factory.js');
  const { Config } = await import('../../src/global/params/config.js');
  const { MemoryLogger } = await import('../../src/global/log/memory-logger.js');
  const base = { config: Config.fromText('alias_maps =\n'), logger: new MemoryLogger() };
  assert.equal(
    createDeliveryAgent({ ...base, entry: { name: 'local', command: 'local', args: [] } })?.command,
    'local',
  );
  assert.equal(
    createDeliveryAgent({ ...base, entry: { name: 'virtual', command: 'virtual', args: [] } })?.command,
    'virtual',
  );
  assert.equal(createDeliveryAgent({ ...base, entry: { name: 'smtp', command: 'smtp', args: [] } }), undefined);
  const pipe = createDeliveryAgent({
    ...base,
    entry: { name: 'bsmtp', command: 'pipe', args: ['flags=Fq.', 'user=nobody', 'argv=/bin/true'] },
  });
  assert.equal(pipe?.command, 'pipe');
  assert.throws(
    () => createDeliveryAgent({ ...base, entry: { name: 'x', command: 'pipe', args: ['argv=/bin/true'] } }),
    /missing user=/,
  );
});
