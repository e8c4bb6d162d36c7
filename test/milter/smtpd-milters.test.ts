// smtpd_milters through a real smtpd session (in-memory cleanup double) and
// real libmilter filters: replies at each stage with Postfix's log lines,
// end-of-message edits reaching the cleanup transaction, quarantine → hold,
// discard, tempfail, and a milter that is down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { content, eventually, RawClient, startSmtpd, type Harness } from '../smtpd/harness.js';
import { freePort } from '../master/harness.js';
import { milterSkip, startMilter, type TestMilter } from './harness.js';

async function session(h: Harness, rcpts: string[], body = 'Subject: hi\r\nFrom: a@example.test\r\n\r\nhello\r\n') {
  const c = await RawClient.connect(h.port);
  const greeting = await c.reply();
  const ehlo = await c.cmd('EHLO client.example.test');
  const mail = await c.cmd('MAIL FROM:<alice@example.test>');
  const rcpt: string[] = [];
  for (const r of rcpts) rcpt.push(await c.cmd(`RCPT TO:<${r}>`));
  const data = await c.cmd('DATA');
  let end = '';
  if (data.startsWith('354')) {
    c.send(`${body}.\r\n`);
    end = await c.reply(20_000);
  }
  await c.cmd('QUIT');
  c.close();
  return { greeting, ehlo, mail, rcpt, data, end };
}

async function withMilter(
  actions: string[],
  fn: (h: Harness, m: TestMilter) => Promise<void>,
  extra = '',
): Promise<void> {
  const m = await startMilter(...actions);
  const h = await startSmtpd(`smtpd_milters = ${m.spec}\n${extra}`);
  try {
    await fn(h, m);
  } finally {
    await h.close();
    await m.stop();
  }
}

test('a milter rejects one recipient with its own reply', { skip: milterSkip }, () =>
  withMilter(['reject-rcpt=bad@example.test'], async (h) => {
    const r = await session(h, ['bad@example.test', 'good@example.test']);
    assert.equal(r.rcpt[0], '550 5.1.1 no such user here (milter)');
    assert.equal(r.rcpt[1], '250 2.1.5 Ok');
    assert.match(r.end, /^250 2\.0\.0 Ok: queued as /);
    const [msg] = h.cleanup.committed();
    assert.deepEqual(
      msg?.recipients.map((x) => x.address),
      ['good@example.test'],
    );
    assert.ok(
      h
        .logs()
        .some((l) =>
          /^NOQUEUE: milter-reject: RCPT from localhost\[127\.0\.0\.1\]: 550 5\.1\.1 no such user here \(milter\); from=<alice@example\.test> to=<bad@example\.test> proto=ESMTP helo=<client\.example\.test>$/.test(
            l,
          ),
        ),
      h.logs().join('\n'),
    );
  }),
);

test('header, recipient, sender and body edits reach cleanup before the commit', { skip: milterSkip }, () =>
  withMilter(
    [
      'addheader=scanned',
      'chgsubject=[tagged] hi',
      'addrcpt=carol@example.test',
      'delrcpt=bob@example.test',
      'chgfrom=bounces@example.test',
      'replbody=replaced\\n',
    ],
    async (h, m) => {
      const r = await session(h, ['bob@example.test', 'dave@example.test']);
      assert.match(r.end, /^250 2\.0\.0 Ok: queued as /);
      const [msg] = h.cleanup.committed();
      assert.ok(msg);
      const text = content(msg);
      // Our Received: header stays first; the milter saw only the client's headers.
      assert.match(text, /^Received: from client\.example\.test/);
      assert.match(text, /\r\nSubject: \[tagged\] hi\r\n/);
      assert.match(text, /\r\nX-Milter: scanned\r\n\r\nreplaced\r\n$/);
      assert.deepEqual(
        msg.recipients.map((x) => x.address),
        ['bob@example.test', 'dave@example.test', 'carol@example.test'],
      );
      assert.deepEqual(msg.actions?.milter, { sender: 'bounces@example.test', deleteRecipients: ['bob@example.test'] });
      const ev = await m.waitFor('close');
      assert.deepEqual(
        ev.filter((e) => e.event === 'header').map((e) => e['name']),
        ['Subject', 'From'],
      );
      const eom = ev.find((e) => e.event === 'eom');
      assert.equal((eom?.['macros'] as Record<string, string>)['i'], msg.queueId);
      const connect = ev.find((e) => e.event === 'connect');
      assert.equal(connect?.['hostname'], 'localhost');
      assert.equal((connect?.['macros'] as Record<string, string>)['_'], 'localhost [127.0.0.1]');
    },
  ),
);

test('quarantine holds the message; discard accepts and drops it', { skip: milterSkip }, async () => {
  await withMilter(['quarantine=spammy'], async (h) => {
    const r = await session(h, ['bob@example.test']);
    assert.match(r.end, /^250 /);
    assert.equal(h.cleanup.committed()[0]?.actions?.hold, true);
    assert.ok(
      h
        .logs()
        .some((l) =>
          /: milter-hold: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: milter triggers HOLD action; from=<alice@example\.test> to=<bob@example\.test>/.test(
            l,
          ),
        ),
      h.logs().join('\n'),
    );
  });
  await withMilter(['discard'], async (h) => {
    const r = await session(h, ['bob@example.test']);
    assert.match(r.end, /^250 /);
    assert.equal(h.cleanup.committed()[0]?.actions?.discard, true);
  });
});

test('reject and tempfail at end of message refuse the message', { skip: milterSkip }, async () => {
  await withMilter(['reject-eom'], async (h) => {
    const r = await session(h, ['bob@example.test']);
    assert.equal(r.end, '554 5.7.1 message refused by milter');
    assert.equal(h.cleanup.committed().length, 0);
    assert.equal(h.cleanup.messages[0]?.state, 'aborted');
    assert.ok(
      h
        .logs()
        .some((l) =>
          /: milter-reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: 5\.7\.1 message refused by milter; from=<alice@example\.test>/.test(
            l,
          ),
        ),
      h.logs().join('\n'),
    );
  });
  await withMilter(['tempfail-mail'], async (h) => {
    const r = await session(h, ['bob@example.test']);
    assert.equal(r.mail, '451 4.7.1 Service unavailable - try again later');
    assert.equal(r.data, '503 5.5.1 Error: need RCPT command');
  });
});

test('a milter that is down: tempfail by default, accept when configured', async () => {
  const port = await freePort();
  const h = await startSmtpd(`smtpd_milters = inet:127.0.0.1:${port}`);
  try {
    const r = await session(h, ['bob@example.test']);
    assert.match(r.greeting, /^220 /);
    assert.equal(r.mail, '451 4.7.1 Service unavailable - try again later');
    assert.ok(
      await eventually(() =>
        h.logs().includes(`warning: connect to Milter service inet:127.0.0.1:${port}: Connection refused`),
      ),
    );
  } finally {
    await h.close();
  }
  const h2 = await startSmtpd(`smtpd_milters = inet:127.0.0.1:${port}\nmilter_default_action = accept`);
  try {
    const r = await session(h2, ['bob@example.test']);
    assert.match(r.end, /^250 2\.0\.0 Ok: queued as /);
  } finally {
    await h2.close();
  }
  // receive_override_options = no_milters: the milter is never asked.
  const h3 = await startSmtpd(`smtpd_milters = inet:127.0.0.1:${port}\nreceive_override_options = no_milters`);
  try {
    const r = await session(h3, ['bob@example.test']);
    assert.match(r.end, /^250 /);
    assert.ok(!h3.logs().some((l) => l.includes('Milter')));
  } finally {
    await h3.close();
  }
});

test('a milter rejecting the connection: 554 greeting, then every MAIL refused', { skip: milterSkip }, () =>
  withMilter(['reject-connect'], async (h) => {
    const r = await session(h, ['bob@example.test']);
    assert.equal(r.greeting, '554 mx.example.test ESMTP not accepting connections');
    assert.equal(r.ehlo, '250-mx.example.test\n250 ENHANCEDSTATUSCODES');
    assert.equal(r.mail, '550 5.7.1 Command rejected');
  }),
);

test('milter_header_checks see the headers a milter adds', { skip: milterSkip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-mhc-'));
  const table = join(dir, 'milter_header_checks');
  await writeFile(
    table,
    '/^X-Milter: spam/ REJECT 5.7.1 milter said spam\n/^X-Milter: held/ HOLD\n/^X-Milter: drop/ IGNORE\n',
  );
  try {
    await withMilter(
      ['addheader=spam'],
      async (h) => {
        const r = await session(h, ['bob@example.test']);
        assert.equal(r.end, '550 5.7.1 milter said spam');
        assert.equal(h.cleanup.committed().length, 0);
        assert.ok(
          h
            .logs()
            .some((l) =>
              /: reject: header X-Milter: spam from localhost\[127\.0\.0\.1\]; from=<alice@example\.test> proto=ESMTP helo=<client\.example\.test>: 5\.7\.1 milter said spam$/.test(
                l,
              ),
            ),
          h.logs().join('\n'),
        );
      },
      `milter_header_checks = regexp:${table}`,
    );
    await withMilter(
      ['addheader=drop'],
      async (h) => {
        const r = await session(h, ['bob@example.test']);
        assert.match(r.end, /^250 /);
        const [msg] = h.cleanup.committed();
        assert.ok(msg);
        assert.doesNotMatch(content(msg), /X-Milter/);
      },
      `milter_header_checks = regexp:${table}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('smtpd_milter_maps: DISABLE per client, a list of its own, the default list, and a table that cannot answer', async () => {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'postern-mmaps-'));
  try {
    await writeFile(join(dir, 'off'), '# local clients get no milters\n127.0.0.0/8 DISABLE\n');
    await writeFile(join(dir, 'elsewhere'), '10.0.0.0/8 DISABLE\n');
    const down = `inet:127.0.0.1:${port}`;
    const cases: { conf: string; check: (r: Awaited<ReturnType<typeof session>>, logs: string[]) => void }[] = [
      {
        // The default list has a milter that is down; the map turns milters off for this client.
        conf: `smtpd_milters = ${down}\nsmtpd_milter_maps = cidr:${join(dir, 'off')}`,
        check: (r, logs) => {
          assert.match(r.end, /^250 2\.0\.0 Ok: queued as /);
          assert.ok(!logs.some((l) => l.includes('Milter')), logs.join('\n'));
        },
      },
      {
        // No default milters; the map names one for this client, and its default_action applies.
        conf: `smtpd_milter_maps = inline:{ 127.0.0.1=${down} }`,
        check: (r) => assert.equal(r.mail, '451 4.7.1 Service unavailable - try again later'),
      },
      {
        // The map has nothing for this client: smtpd_milters applies.
        conf: `smtpd_milters = ${down}\nsmtpd_milter_maps = cidr:${join(dir, 'elsewhere')}`,
        check: (r) => assert.equal(r.mail, '451 4.7.1 Service unavailable - try again later'),
      },
      {
        // A table that cannot answer now: the client is told to come back, with a warning in the log.
        conf: `smtpd_milters = ${down}\nsmtpd_milter_maps = tcp:127.0.0.1:${port}`,
        check: (r, logs) => {
          assert.match(r.greeting, /^421 4\.3\.0 mx\.example\.test Server configuration problem/);
          assert.ok(
            logs.some((l) => /warning: smtpd_milter_maps: lookup of 127\.0\.0\.1 failed/.test(l)),
            logs.join('\n'),
          );
        },
      },
    ];
    for (const c of cases) {
      const h = await startSmtpd(c.conf);
      try {
        const r = await session(h, ['bob@example.test']);
        c.check(r, h.logs());
      } finally {
        await h.close();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
