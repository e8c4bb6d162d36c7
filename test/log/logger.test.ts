// The mail log: line shapes, tags under -o overrides, escaping, maillog_file
// prefix checks and syslog datagrams (unix-dgram, when it is installed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config } from '../../src/global/params/config.js';
import { createLogger, LogConfigError } from '../../src/global/log/create-logger.js';
import { fileTimestamp, formatSyslogPacket, sanitizeLogText, MAX_LOG_TEXT } from '../../src/global/log/format.js';
import { FatalError } from '../../src/global/log/logger.js';
import { SyslogSink, syslogAvailable } from '../../src/global/log/syslog-sink.js';
import { flushLogFiles } from '../../src/global/log/sinks.js';

const LINE = /^[A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} (\S+) (\S+)\[(\d+)\]: (.*)$/;

async function withLogDir(fn: (dir: string, config: Config) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-log-'));
  try {
    const config = Config.fromText(
      `myhostname = mx1.example.com\nmaillog_file = ${dir}/maillog\nmaillog_file_prefixes = ${dir}\n`,
    );
    await fn(dir, config);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('maillog_file lines have Postfix shape, labels and tag', async () => {
  await withLogDir(async (dir, config) => {
    const log = createLogger(config, 'smtpd');
    log.info('connect from localhost[127.0.0.1]');
    log.warning('hostname nowhere does not resolve');
    log.error('bad thing');
    log.child('cleanup').info('ABC123: message-id=<x@y>');
    flushLogFiles();
    const lines = (await readFile(join(dir, 'maillog'), 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, 4);
    const parsed = lines.map((l) => LINE.exec(l));
    for (const m of parsed) {
      assert.ok(m, 'line has the syslog shape');
      assert.equal(m[1], 'mx1');
      assert.equal(m[3], String(process.pid));
    }
    assert.deepEqual(
      parsed.map((m) => [m?.[2], m?.[4]]),
      [
        ['postfix/smtpd', 'connect from localhost[127.0.0.1]'],
        ['postfix/smtpd', 'warning: hostname nowhere does not resolve'],
        ['postfix/smtpd', 'error: bad thing'],
        ['postfix/cleanup', 'ABC123: message-id=<x@y>'],
      ],
    );
  });
});

test('syslog_name follows master.cf -o overrides', async () => {
  await withLogDir(async (dir, config) => {
    const sub = config.withOverrides({ syslog_name: 'postfix/submission' });
    const log = createLogger(sub, 'smtpd');
    assert.equal(log.tag, 'postfix/submission/smtpd');
    log.info('hello');
    flushLogFiles();
    const text = await readFile(join(dir, 'maillog'), 'utf8');
    assert.match(text, / postfix\/submission\/smtpd\[\d+\]: hello\n$/);
  });
});

test('fatal and panic log first, then throw FatalError', async () => {
  await withLogDir(async (dir, config) => {
    const log = createLogger(config, 'qmgr');
    assert.throws(
      () => log.fatal('no queue'),
      (e: unknown) => e instanceof FatalError && e.severity === 'fatal',
    );
    assert.throws(
      () => log.panic('broken'),
      (e: unknown) => e instanceof FatalError && e.severity === 'panic',
    );
    const text = await readFile(join(dir, 'maillog'), 'utf8');
    assert.match(text, /postfix\/qmgr\[\d+\]: fatal: no queue\n.*postfix\/qmgr\[\d+\]: panic: broken\n$/);
  });
});

test('info lines are batched and reach the file on their own; a warning writes everything pending at once', async () => {
  await withLogDir(async (dir, config) => {
    const log = createLogger(config, 'qmgr');
    const file = join(dir, 'maillog');
    log.info('ABC123: from=<a@b>, size=1, nrcpt=1 (queue active)');
    // No flush asked for: the batch goes out by itself within milliseconds.
    let text = '';
    for (let i = 0; i < 200 && !text.includes('queue active'); i++) {
      await new Promise((r) => setTimeout(r, 10));
      text = await readFile(file, 'utf8');
    }
    assert.match(text, /: ABC123: from=<a@b>, size=1, nrcpt=1 \(queue active\)\n$/);
    log.info('ABC123: removed');
    log.warning('disk nearly full');
    // The warning went out synchronously, after the info line that was waiting.
    const now = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(now.length, 3);
    assert.match(now[1] ?? '', /qmgr\[\d+\]: ABC123: removed$/);
    assert.match(now[2] ?? '', /qmgr\[\d+\]: warning: disk nearly full$/);
  });
});

test('untrusted text cannot forge lines and is truncated', async () => {
  assert.equal(sanitizeLogText('a\r\nb\tc\x00d\x7f'), 'a??b?c?d?');
  assert.equal(sanitizeLogText('naïve ünïcode'), 'naïve ünïcode');
  const long = sanitizeLogText('x'.repeat(MAX_LOG_TEXT * 2));
  assert.equal(long.length, MAX_LOG_TEXT + 3);
  await withLogDir(async (dir, config) => {
    createLogger(config, 'smtpd').info('EHLO evil\nNov 26 00:00:00 mx1 postfix/smtpd[1]: forged');
    flushLogFiles();
    const lines = (await readFile(join(dir, 'maillog'), 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, 1);
  });
});

test('maillog_file outside maillog_file_prefixes is refused', () => {
  const config = Config.fromText('maillog_file = /etc/passwd-log\n');
  assert.throws(() => createLogger(config, 'smtpd'), LogConfigError);
});

test('unknown syslog_facility is refused, known ones give RFC 3164 priorities', () => {
  assert.throws(() => createLogger(Config.fromText('syslog_facility = nosuch\n'), 'smtpd'), LogConfigError);
  const when = new Date(2026, 10, 6, 9, 5, 7);
  assert.equal(
    formatSyslogPacket(when, 2, 'postfix/smtpd', 42, 'warning', 'x'),
    '<20>Nov  6 09:05:07 postfix/smtpd[42]: warning: x',
  );
  assert.equal(
    formatSyslogPacket(when, 16, 'postfix/qmgr', 1, 'fatal', 'y'),
    '<130>Nov  6 09:05:07 postfix/qmgr[1]: fatal: y',
  );
  assert.equal(fileTimestamp(when), 'Nov 06 09:05:07');
});

test(
  'syslog datagrams reach a unix datagram socket',
  { skip: !syslogAvailable() && 'unix-dgram not installed' },
  async () => {
    interface Srv {
      bind(path: string): void;
      on(ev: 'message', cb: (b: Buffer) => void): void;
      close(): void;
    }
    const mod = createRequire(import.meta.url)('unix-dgram') as {
      createSocket(t: string, cb?: (b: Buffer) => void): Srv;
    };
    const dir = await mkdtemp(join(tmpdir(), 'postern-syslog-'));
    const path = join(dir, 'log');
    const got: string[] = [];
    const server = mod.createSocket('unix_dgram', (b) => got.push(b.toString()));
    server.bind(path);
    try {
      const sink = new SyslogSink(2, path);
      sink.write({ when: new Date(), tag: 'postfix/smtpd', pid: 7, severity: 'info', text: 'one\ntwo' });
      sink.close();
      for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(got.length, 1);
      assert.match(got[0] ?? '', /^<22>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d postfix\/smtpd\[7\]: one\?two$/);
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('syslog to a missing /dev/log neither throws nor keeps the process alive', () => {
  const sink = new SyslogSink(2, '/nonexistent/postern/log');
  sink.write({ when: new Date(), tag: 'postfix/smtpd', pid: 1, severity: 'info', text: 'x' });
  sink.close();
});
