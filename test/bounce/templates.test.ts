// bounce_template_file in real notices: the file's headers and expanded text
// replace the built-in ones, postmaster copies carry the Postmaster-Subject
// and no template text, non-ASCII text goes out as a correctly labelled
// quoted-printable part, and a missing or broken file is a warning naming the
// file and line while the built-in text is used. Also the 2bounce rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createBounceService, type NoticeRequest } from '../../src/daemons/bounce/bounce.js';
import { parseTemplateFile } from '../../src/daemons/bounce/template-file.js';
import { CapturingCleanup } from '../qmgr/fakes.js';

process.env.TZ = 'UTC';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const ORIGINAL = 'Subject: hi\r\nFrom: alice@example.com\r\n\r\nbody line\r\n';

function request(kind: NoticeRequest['kind'] = 'bounce', sender = 'alice@example.com'): NoticeRequest {
  return {
    kind,
    message: {
      queueId: '3A1B2C',
      sender,
      arrivalTime: NOW - 7_200_000,
      size: ORIGINAL.length,
      openContent: async function* () {
        await Promise.resolve();
        yield Buffer.from(ORIGINAL);
      },
    },
    recipients: [
      {
        address: 'bob@remote.test',
        original: 'bob@remote.test',
        action: kind === 'delay' ? 'delayed' : 'failed',
        dsn: kind === 'delay' ? '4.4.1' : '5.1.1',
        relay: 'none',
        reason: 'no such user',
      },
    ],
  };
}

async function withTemplate(
  text: string | undefined,
  extra: string,
  fn: (r: {
    cleanup: CapturingCleanup;
    logger: MemoryLogger;
    svc: ReturnType<typeof createBounceService>;
  }) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-tpl-'));
  try {
    const file = join(dir, 'bounce.cf');
    if (text !== undefined) await writeFile(file, text);
    const cf = `myhostname = mx.example.com\nmydomain = example.com\nbounce_template_file = ${file}\n${extra}`;
    const cleanup = new CapturingCleanup();
    const logger = new MemoryLogger('postfix/bounce');
    const svc = createBounceService({ config: Config.fromText(cf), cleanup, logger, now: () => NOW });
    await fn({ cleanup, logger, svc });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The first MIME part (headers, body) of a notice. */
function firstPart(content: string): { headers: string; body: string } {
  const boundary = /boundary="([^"]+)"/.exec(content)?.[1] ?? '';
  const part = content.split(`\r\n--${boundary}\r\n`)[1] ?? '';
  const i = part.indexOf('\r\n\r\n');
  return { headers: part.slice(0, i), body: part.slice(i + 4).split(`\r\n--${boundary}`)[0] ?? '' };
}

function warnings(logger: MemoryLogger): string[] {
  return logger.lines.filter((l) => l.severity === 'warning').map((l) => l.text);
}

function decodeQp(text: string): string {
  const bytes = text
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

const FAILURE = [
  'failure_template = <<EOF',
  'From: Bounce Robot <MAILER-DAEMON>',
  'Subject: Could not deliver',
  'Postmaster-Subject: PM: could not deliver',
  '',
  'Host $myhostname gave up after $maximal_queue_lifetime_days day(s) ($$0 charged).',
  'EOF',
  '',
].join('\n');

test('sender notice and postmaster copy follow the template; the copy has no template text', async () => {
  await withTemplate(
    FAILURE,
    'maximal_queue_lifetime = 2d\nnotify_classes = bounce\n',
    async ({ cleanup, logger, svc }) => {
      await svc.notify(request());
      assert.equal(cleanup.injected.length, 2);
      const [sender, pm] = cleanup.injected;
      assert.match(sender?.content ?? '', /^From: Bounce Robot <MAILER-DAEMON>\r$/m);
      assert.match(sender?.content ?? '', /^Subject: Could not deliver\r$/m);
      const text = firstPart(sender?.content ?? '');
      assert.match(text.headers, /Content-Type: text\/plain; charset=us-ascii/);
      assert.equal(
        text.body,
        'Host mx.example.com gave up after 2 day(s) ($0 charged).\r\n\r\n<bob@remote.test>: no such user\r\n',
      );
      assert.match(pm?.content ?? '', /^Subject: PM: could not deliver\r$/m);
      assert.equal(firstPart(pm?.content ?? '').body, '<bob@remote.test>: no such user\r\n');
      assert.deepEqual(warnings(logger), []);
    },
  );
});

test('templates the file leaves out keep the built-in text', async () => {
  await withTemplate(FAILURE, 'delay_warning_time = 3h\n', async ({ cleanup, svc }) => {
    await svc.notify(request('delay'));
    const c = cleanup.injected[0]?.content ?? '';
    assert.match(c, /^Subject: Delayed Mail \(still being retried\)\r$/m);
    assert.match(c, /delayed for 3 hour\(s\) or more/);
    assert.match(c, /The Postern program/);
  });
});

test('non-ASCII template text with Charset: utf-8 becomes a quoted-printable utf-8 part', async () => {
  const file =
    'failure_template = <<EOF\nCharset: utf-8\n\nZustellung fehlgeschlagen: Grüße von $myhostname — €\nEOF\n';
  await withTemplate(file, '', async ({ cleanup, svc }) => {
    await svc.notify(request());
    const c = cleanup.injected[0]?.content ?? '';
    assert.ok(!/[^\t\r\n\x20-\x7e]/.test(c), 'the whole notice stays 7-bit');
    assert.match(c, /^Content-Transfer-Encoding: 7bit\r$/m);
    const part = firstPart(c);
    assert.match(
      part.headers,
      /Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable/,
    );
    for (const line of part.body.split('\r\n')) assert.ok(line.length <= 76, `QP line too long: ${line}`);
    assert.equal(
      decodeQp(part.body),
      'Zustellung fehlgeschlagen: Grüße von mx.example.com — €\r\n\r\n<bob@remote.test>: no such user\r\n',
    );
  });
});

test('a missing template file is a warning and the built-in text is used', async () => {
  await withTemplate(undefined, '', async ({ cleanup, logger, svc }) => {
    await svc.notify(request());
    assert.match(cleanup.injected[0]?.content ?? '', /The Postern program/);
    assert.equal(warnings(logger).length, 1);
    assert.match(warnings(logger)[0] ?? '', /open .*bounce\.cf: No such file or directory -- using the built-in/);
    // Read once: a second notice does not warn again.
    await svc.notify(request());
    assert.equal(warnings(logger).length, 1);
  });
});

test('a template with an undefined $name or bad header falls back to the built-in one, with file and line', async () => {
  const file = [
    'failure_template = <<EOF',
    'Uses $not_a_parameter.',
    'EOF',
    'success_template = <<EOF',
    'X-Custom: no',
    '',
    'text',
    'EOF',
    '',
  ].join('\n');
  await withTemplate(file, '', async ({ cleanup, logger, svc }) => {
    await svc.notify(request());
    assert.match(cleanup.injected[0]?.content ?? '', /Your message could not be delivered/);
    const w = warnings(logger).join('\n');
    assert.match(
      w,
      /bounce\.cf, line 5: unknown "X-Custom" header label in success template -- ignoring this template/,
    );
    assert.match(
      w,
      /bounce\.cf: undefined \$not_a_parameter in failure template -- using the built-in failure template/,
    );
  });
});

test('template file parser: later definitions win, comments and blank lines are skipped, headers are case-blind', () => {
  const r = parseTemplateFile(
    [
      '# comment',
      '   ',
      'verify_template = <<END',
      'SUBJECT: first',
      '',
      'one',
      'END',
      'verify_template = <<END',
      'subject: second',
      'Subject is not a header here',
      'END',
    ].join('\n'),
    'x.cf',
  );
  assert.deepEqual(r.warnings, []);
  assert.equal(r.templates.verify?.subject, 'second');
  assert.deepEqual(r.templates.verify?.body, ['Subject is not a header here']);
});

test('2bounce: an undeliverable bounce goes whole to 2bounce_notice_recipient, or is dropped without the class', async () => {
  await withTemplate(FAILURE, 'notify_classes = 2bounce\n2bounce_notice_recipient = hostmaster\n', async (r) => {
    await r.svc.notify(request('bounce', ''));
    assert.equal(r.cleanup.injected.length, 1);
    const n = r.cleanup.injected[0];
    assert.deepEqual(
      n?.recipients.map((x) => x.address),
      ['hostmaster'],
    );
    assert.equal(n?.req.sender, 'double-bounce@mx.example.com');
    assert.match(n?.content ?? '', /^Subject: PM: could not deliver\r$/m);
    assert.match(n?.content ?? '', /Content-Type: message\/rfc822\r\n\r\nSubject: hi\r\n[\s\S]*body line/);
  });
  await withTemplate(undefined, 'notify_classes = resource, software\n', async (r) => {
    await r.svc.notify(request('bounce', ''));
    assert.equal(r.cleanup.injected.length, 0);
    assert.deepEqual(r.logger.texts(), ['3A1B2C: undeliverable bounce discarded (notify_classes has no 2bounce)']);
  });
});

test('a broken time value in main.cf never stops a notice: the text goes out unexpanded', async () => {
  const cleanup = new CapturingCleanup();
  const logger = new MemoryLogger('postfix/bounce');
  const config = Config.fromText('myhostname = mx.example.com\ndelay_warning_time = soon\n');
  const svc = createBounceService({ config, cleanup, logger, now: () => NOW });
  await svc.notify(request('delay'));
  assert.equal(cleanup.injected.length, 1);
  assert.match(cleanup.injected[0]?.content ?? '', /delayed for \$delay_warning_time_hours hour\(s\)/);
  assert.match(warnings(logger).join('\n'), /sending the delay text unexpanded/);
});
