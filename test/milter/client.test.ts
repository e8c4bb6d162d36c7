// The milter client (src/global/milter) against a real libmilter filter:
// negotiation, events with macros, replies, end-of-message edits, and the
// default_action when the milter is down or too slow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { Config } from '../../src/global/params/config.js';
import { MilterMessage } from '../../src/global/milter/message.js';
import { Milters } from '../../src/global/milter/milters.js';
import { sessionMacros } from '../../src/global/milter/macros.js';
import { readMilterSettings } from '../../src/global/milter/settings.js';
import { freePort } from '../master/harness.js';
import { milterSkip, startMilter, startUnixMilter } from './harness.js';

function milters(list: string, extra = ''): { m: Milters; log: MemoryLogger } {
  const config = Config.fromText(`myhostname = mx.example.test\nsmtpd_milters = ${list}\n${extra}\n`);
  const log = new MemoryLogger('postfix/smtpd');
  return { m: new Milters(readMilterSettings(config, 'smtpd_milters'), log), log };
}

const macros = sessionMacros({
  queueId: '4ABCDEF',
  myhostname: 'mx.example.test',
  daemonName: 'mx.example.test',
  v: 'Postern 3.7',
  clientName: 'client.example.test',
  clientAddr: '127.0.0.1',
  clientPort: 40000,
  sender: 'alice@example.test',
  recipient: 'bob@example.test',
  mailer: 'smtp',
});

const MESSAGE = Buffer.from(
  'Received: from client (client [127.0.0.1])\r\n\tby mx; now\r\nSubject: hello\r\nFrom: alice@example.test\r\n\r\nbody line\r\n',
);

test('a whole conversation with edits at end of message', { skip: milterSkip }, async () => {
  const f = await startMilter(
    'addheader=yes',
    'chgsubject=changed',
    'addrcpt=carol@example.test',
    'delrcpt=bob@example.test',
    'chgfrom=bounce@example.test',
    'replbody=new body\\n',
  );
  try {
    const { m, log } = milters(f.spec);
    assert.equal(await m.connect({ name: 'client.example.test', addr: '127.0.0.1', port: 40000 }, macros), undefined);
    assert.equal(await m.helo('client.example.test', macros), undefined);
    assert.equal(await m.mail(['<alice@example.test>', 'SIZE=100'], macros), undefined);
    assert.equal(await m.rcpt(['<bob@example.test>'], macros), undefined);
    assert.equal(await m.data(macros), undefined);
    const msg = new MilterMessage(MESSAGE, 0);
    assert.equal(await m.message(msg, { eoh: macros, eom: macros }), undefined);
    m.abort();
    m.quit();
    const text = msg.content().toString();
    assert.match(text, /^Received: from client/);
    assert.match(text, /\r\nSubject: changed\r\n/);
    assert.match(text, /\r\nX-Milter: yes\r\n\r\nnew body\r\n$/);
    assert.equal(msg.sender, 'bounce@example.test');
    assert.deepEqual(msg.recipientEdits(['bob@example.test']), {
      deleted: ['bob@example.test'],
      added: ['carol@example.test'],
    });
    const ev = await f.waitFor('close');
    const connect = ev.find((e) => e.event === 'connect');
    assert.equal(connect?.['hostname'], 'client.example.test');
    assert.deepEqual((connect?.['macros'] as Record<string, string>)['j'], 'mx.example.test');
    const mail = ev.find((e) => e.event === 'mail');
    assert.equal(mail?.['sender'], '<alice@example.test>');
    assert.deepEqual(mail?.['params'], ['SIZE=100']);
    // Our own Received: header is not shown to milters.
    const headers = ev.filter((e) => e.event === 'header').map((e) => e['name']);
    assert.deepEqual(headers, ['Subject', 'From']);
    assert.equal(ev.find((e) => e.event === 'body')?.['text'], 'body line\r\n');
    assert.deepEqual(log.texts(), []);
  } finally {
    await f.stop();
  }
});

test('a recipient rejected with a custom reply', { skip: milterSkip }, async () => {
  const f = await startMilter('reject-rcpt=bad@example.test', 'reply-mail');
  try {
    const { m } = milters(f.spec);
    await m.connect({ name: 'unknown', addr: '127.0.0.1', port: 1 }, macros);
    const v = await m.mail(['<x@example.test>'], macros);
    assert.equal(v?.kind, 'reply');
    if (v?.kind === 'reply') {
      assert.equal(v.reply.code, 550);
      assert.equal(v.reply.dsn, '5.7.0');
      assert.equal(v.reply.text, 'sender refused by milter\nsecond line');
    }
    m.quit();
  } finally {
    await f.stop();
  }
});

test('a milter that is down applies default_action with Postfix log lines', async () => {
  const port = await freePort();
  for (const [action, expect] of [
    ['tempfail', '451 4.7.1 Service unavailable - try again later'],
    ['reject', '550 5.5.0 Service unavailable'],
    ['accept', undefined],
  ] as const) {
    const { m, log } = milters(`{ inet:127.0.0.1:${port}, default_action=${action} }`);
    const v = await m.connect({ name: 'unknown', addr: '127.0.0.1', port: 1 }, macros);
    if (expect === undefined) assert.equal(v, undefined);
    else {
      assert.equal(v?.kind, 'reply');
      if (v?.kind === 'reply') assert.equal(`${v.reply.code} ${v.reply.dsn} ${v.reply.text}`, expect);
    }
    assert.deepEqual(log.texts(), [`warning: connect to Milter service inet:127.0.0.1:${port}: Connection refused`]);
    // Later events give the same answer without trying again.
    assert.deepEqual(await m.mail(['<a@b>'], macros), v);
  }
});

test('a milter slower than milter_command_timeout is given up', { skip: milterSkip }, async () => {
  const f = await startMilter('sleep-mail=5');
  try {
    const { m, log } = milters(`{ ${f.spec}, command_timeout=1s }`);
    await m.connect({ name: 'unknown', addr: '127.0.0.1', port: 1 }, macros);
    const v = await m.mail(['<a@b>'], macros);
    assert.equal(v?.kind, 'reply');
    assert.ok(
      log
        .texts()
        .includes(`warning: milter ${f.spec}: can't read SMFIC_MAIL reply packet header: Connection timed out`),
      log.texts().join('\n'),
    );
    m.quit();
  } finally {
    await f.stop();
  }
});

test('unix: sockets, and protocol version 2 negotiated with a version 6 filter', { skip: milterSkip }, async () => {
  const f = await startUnixMilter('addheader=v2');
  try {
    const { m, log } = milters(`{ ${f.spec}, protocol=2 }`);
    assert.equal(await m.connect({ name: 'unknown', addr: '192.0.2.1', port: 25 }, macros), undefined);
    assert.equal(await m.helo('h', macros), undefined);
    assert.equal(await m.mail(['<a@b>'], macros), undefined);
    assert.equal(await m.rcpt(['<c@d>'], macros), undefined);
    // Version 2 has no DATA and no UNKNOWN event: they are not sent.
    assert.equal(await m.data(macros), undefined);
    assert.equal(await m.unknown('XYZZY', macros), undefined);
    const msg = new MilterMessage(Buffer.from('Subject: x\r\n\r\nb\r\n'));
    assert.equal(await m.message(msg, { eoh: macros, eom: macros }), undefined);
    assert.match(msg.content().toString(), /X-Milter: v2\r\n/);
    m.quit();
    const ev = await f.waitFor('close');
    assert.equal(ev.find((e) => e.event === 'connect')?.['hostname'], '[192.0.2.1]');
    assert.ok(!ev.some((e) => e.event === 'data'));
    assert.deepEqual(log.texts(), []);
  } finally {
    await f.stop();
  }
});

test(
  'two milters in a row: the first one deciding wins; the second sees the first one’s edits',
  { skip: milterSkip },
  async () => {
    const a = await startMilter('addheader=first');
    const b = await startMilter('chgsubject=second');
    try {
      const { m } = milters(`${a.spec}, ${b.spec}`);
      await m.connect({ name: 'unknown', addr: '127.0.0.1', port: 1 }, macros);
      await m.mail(['<a@b>'], macros);
      await m.rcpt(['<c@d>'], macros);
      const msg = new MilterMessage(Buffer.from('Subject: s\r\n\r\nb\r\n'));
      assert.equal(await m.message(msg, { eoh: macros, eom: macros }), undefined);
      assert.equal(msg.content().toString(), 'Subject: second\r\nX-Milter: first\r\n\r\nb\r\n');
      m.quit();
      const seen = (await b.waitFor('close'))
        .filter((e) => e.event === 'header')
        .map((e) => `${String(e['name'])}: ${String(e['value'])}`);
      assert.deepEqual(seen, ['Subject: s', 'X-Milter: first']);
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);
