// Pure pieces of the milter client: the milter list syntax with per-milter
// settings, packet framing, reply text parsing, and how header edits count
// indexes (our own Received: hidden for changes, counted for inserts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MilterConfigError, readMilterSettings } from '../../src/global/milter/settings.js';
import { encodePacket, PacketSplitter, SMFIC } from '../../src/global/milter/protocol.js';
import { parseReplyText } from '../../src/global/milter/reply.js';
import { MilterMessage } from '../../src/global/milter/message.js';
import { macroPairs, sessionMacros } from '../../src/global/milter/macros.js';
import fc from 'fast-check';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createSmtpd } from '../../src/daemons/smtpd/smtpd.js';

test('smtpd_milters: bare endpoints and the { endpoint, name=value } form', () => {
  const c = Config.fromText(
    'smtpd_milters = inet:127.0.0.1:8891, { unix:/run/m.sock, connect_timeout=10s, default_action=accept, command_timeout = 2m, protocol=4 }\nmilter_content_timeout = 100s\n',
  );
  const s = readMilterSettings(c, 'smtpd_milters');
  assert.deepEqual(
    s.milters.map((m) => [
      m.name,
      m.connectTimeoutMs,
      m.commandTimeoutMs,
      m.contentTimeoutMs,
      m.defaultAction,
      m.protocol,
    ]),
    [
      ['inet:127.0.0.1:8891', 30_000, 30_000, 100_000, 'tempfail', '6'],
      ['unix:/run/m.sock', 10_000, 120_000, 100_000, 'accept', '4'],
    ],
  );
  assert.deepEqual(s.macros.lists.connect, ['j', '{daemon_name}', '{daemon_addr}', 'v', '_']);
  assert.throws(
    () => readMilterSettings(Config.fromText('smtpd_milters = { inet:h:1, bogus=1 }\n'), 'smtpd_milters'),
    MilterConfigError,
  );
  assert.throws(
    () => readMilterSettings(Config.fromText('smtpd_milters = { inet:h:1, connect_timeout=x }\n'), 'smtpd_milters'),
    MilterConfigError,
  );
});

test('milter_macro_defaults fill macros that have no value; names keep their braces', () => {
  const c = Config.fromText(
    'smtpd_milters = inet:h:1\nmilter_macro_defaults = { auth_type = none }, daemon_addr=0.0.0.0\n',
  );
  const s = readMilterSettings(c, 'smtpd_milters');
  const lookup = sessionMacros({
    myhostname: 'mx',
    daemonName: 'mx',
    v: 'Postern',
    mailer: 'smtp',
    sender: 'a@b.test',
  });
  assert.deepEqual(macroPairs(['j', '{auth_type}', '{mail_addr}', '{daemon_addr}', '{rcpt_addr}'], lookup, s.macros), [
    'j',
    'mx',
    '{auth_type}',
    'none',
    '{mail_addr}',
    'a@b.test',
    '{daemon_addr}',
    '0.0.0.0',
  ]);
});

test('packets split at any byte boundary; absurd lengths are refused', () => {
  const a = encodePacket(SMFIC.HEADER, ['Subject', 'x']);
  const b = encodePacket(SMFIC.EOH);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: a.length + b.length }), (cut) => {
      const all = Buffer.concat([a, b]);
      const sp = new PacketSplitter();
      const got = [...sp.push(all.subarray(0, cut)), ...sp.push(all.subarray(cut))];
      assert.deepEqual(
        got.map((p) => [p.cmd, p.data.toString('latin1')]),
        [
          ['L', 'Subject\0x\0'],
          ['N', ''],
        ],
      );
    }),
  );
  assert.throws(() => new PacketSplitter().push(Buffer.from([0, 0, 0, 0, 0x61])), /bad packet length/);
  assert.throws(() => new PacketSplitter().push(Buffer.from([0x7f, 0, 0, 0, 0x61])), /unreasonable packet length/);
});

test('reply text: code, DSN and multi-line text', () => {
  assert.deepEqual(parseReplyText('550 5.7.1 Command rejected'), { code: 550, dsn: '5.7.1', text: 'Command rejected' });
  assert.deepEqual(parseReplyText('451-4.7.0 first\r\n451 4.7.0 second'), {
    code: 451,
    dsn: '4.7.0',
    text: 'first\nsecond',
  });
  assert.deepEqual(parseReplyText('554 go away'), { code: 554, dsn: '', text: 'go away' });
});

test('header edits: change counts visible headers, insert counts from the very top', () => {
  const content = Buffer.from('Received: ours\r\nX-A: 1\r\nSubject: s\r\nX-A: 2\r\n\tfolded\r\n\r\nbody\r\n');
  const msg = new MilterMessage(content, 0);
  assert.deepEqual(
    msg.visible().map((h) => h.name),
    ['X-A', 'Subject', 'X-A'],
  );
  assert.equal(msg.visible()[2]?.value, ' 2\n\tfolded');
  const e = msg.editor();
  e.changeHeader(2, 'x-a', ' ', 'two');
  e.deleteHeader(1, 'Subject');
  e.deleteHeader(5, 'Subject'); // no such header: nothing happens
  e.insertHeader(0, 'X-Top', ' ', 'top');
  e.changeHeader(1, 'X-New', ' ', 'added at the end');
  e.addHeader('X-Multi', ' ', 'a\nb');
  assert.equal(
    msg.content().toString(),
    'X-Top: top\r\nReceived: ours\r\nX-A: 1\r\nx-a: two\r\nX-New: added at the end\r\nX-Multi: a\r\n\tb\r\n\r\nbody\r\n',
  );
  e.replaceBody(Buffer.from('new\nbody'));
  e.endBody();
  assert.match(msg.content().toString(), /\r\n\r\nnew\r\nbody\r\n$/);
});

test('recipient edits in order: delete then re-add keeps the recipient', () => {
  const msg = new MilterMessage(Buffer.from('\r\n'));
  const e = msg.editor();
  e.deleteRecipient('<a@x>');
  e.addRecipient('<a@x>', '');
  e.addRecipient('<b@x>', 'NOTIFY=NEVER');
  e.deleteRecipient('<c@x>');
  e.deleteRecipient('<unknown@x>');
  assert.deepEqual(msg.recipientEdits(['a@x', 'c@x']), { deleted: ['c@x'], added: ['b@x'] });
  assert.deepEqual(msg.ignoredArgs, [{ what: 'cleanup_add_rcpt', args: 'NOTIFY=NEVER' }]);
});

test('a malformed smtpd_milters entry stops smtpd from starting, naming the parameter', () => {
  assert.throws(
    () =>
      createSmtpd({
        config: Config.fromText('smtpd_milters = { inet:127.0.0.1:1, bogus=1 }\n'),
        logger: new MemoryLogger('postfix/smtpd'),
        cleanup: { open: () => Promise.reject(new Error('unused')) },
        policy: { check: () => Promise.resolve({ action: 'dunno' }) },
      }),
    /^MilterConfigError: smtpd_milters: bad milter attribute "bogus=1" in "\{ inet:127\.0\.0\.1:1, bogus=1 \}"$/,
  );
});

test('the _ macro: reverse name and address, flagged when the names disagree', () => {
  const base = { myhostname: 'mx', daemonName: 'mx', v: 'Postern', mailer: 'smtp', clientAddr: '192.0.2.7' };
  assert.equal(sessionMacros({ ...base, clientName: 'a.test', clientPtr: 'a.test' })('_'), 'a.test [192.0.2.7]');
  assert.equal(
    sessionMacros({ ...base, clientName: 'unknown', clientPtr: 'fake.test' })('_'),
    'fake.test [192.0.2.7] (may be forged)',
  );
});
