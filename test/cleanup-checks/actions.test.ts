// header_checks(5) actions end to end: a real cleanup over a temp queue with
// real regexp/pcre tables; each test looks at what was committed (content,
// queue state, envelope) and at the log lines Postfix writes for the action.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DictRetryError, type Dict } from '../../src/global/dict/dict-api.js';
import { Config } from '../../src/global/params/config.js';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import { createContentChecks } from '../../src/daemons/cleanup/checks/content-checks.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { harness, linesFor, queued } from './harness.js';

const HEADER_TABLE = `
/^Subject:.*reject-me/      REJECT
/^Subject:.*custom-reject/  REJECT 5.7.0 go away
/^Subject:.*tempfail/       REJECT 4.7.1 try later
/^Subject:.*discard-me/     DISCARD spam
/^Subject:.*hold-me/        HOLD for review
/^X-Drop:/                  IGNORE
/^X-Old: (.*)/              REPLACE X-New: $1
/^Subject:.*prepend-me/     PREPEND X-Flag: prepended
/^Subject:.*warn-me/        WARN suspicious
/^Subject:.*info-me/        INFO noted
/^Subject:.*redirect-me/    REDIRECT quarantine@example.net
/^Subject:.*bcc-me/         BCC archive@example.net
/^Subject:.*filter-me/      FILTER scan:[127.0.0.1]:10025
/^Subject:.*dunno-me/       DUNNO
/^Subject:.*ok-me/          OK
/^Subject:.*bogus-me/       FROBNICATE now
/^Subject:.*badredirect/    REDIRECT nobody
/^Subject:.*multi.*line/    WARN folded
`;

const BODY_TABLE = `
/^body-reject/   REJECT bad body
/^body-ignore/   IGNORE
/^body-replace/  REPLACE replaced line
/^body-prepend/  PREPEND inserted line
/^body-hold/     HOLD
`;

async function withChecks(
  fn: (h: Awaited<ReturnType<typeof harness>>) => Promise<void>,
  closeStore = true,
): Promise<void> {
  const h = await harness('header_checks = regexp:$DIR/header_checks\nbody_checks = pcre:$DIR/body_checks\n', {
    header_checks: HEADER_TABLE,
    body_checks: BODY_TABLE,
  });
  try {
    await fn(h);
  } finally {
    await h.done(closeStore);
  }
}

const FROM_CLIENT =
  'from client.example[192.0.2.7]; from=<alice@example.com> to=<bob@example.org> proto=ESMTP helo=<helo.example>';

test('REJECT: default and custom replies, logged like Postfix, nothing queued', async () => {
  await withChecks(async (h) => {
    const a = await h.submit('Subject: please reject-me\n\nbody\n');
    assert.deepEqual(a, { status: 'rejected', reply: { code: 550, dsn: '5.7.1', text: 'message content rejected' } });
    assert.ok(
      h.log
        .texts()
        .some((l) =>
          l.endsWith(`: reject: header Subject: please reject-me ${FROM_CLIENT}: 5.7.1 message content rejected`),
        ),
      h.log.texts().join('\n'),
    );
    const b = await h.submit('Subject: custom-reject\n\nbody\n');
    assert.deepEqual(b, { status: 'rejected', reply: { code: 550, dsn: '5.7.0', text: 'go away' } });
    const c = await h.submit('Subject: tempfail\n\nbody\n');
    assert.deepEqual(c, { status: 'rejected', reply: { code: 451, dsn: '4.7.1', text: 'try later' } });
    assert.equal(h.store.stats().messages, 0);
  });
});

test('DISCARD: reported discarded, not stored, logged with its text', async () => {
  await withChecks(async (h) => {
    const v = await h.submit('Subject: discard-me\n\nbody\n');
    assert.equal(v.status, 'discarded');
    const id = v.status === 'discarded' ? v.queueId : '';
    assert.equal(h.store.get(id), undefined);
    assert.ok(linesFor(h.log, id).includes(`discard: header Subject: discard-me ${FROM_CLIENT}: spam`));
  });
});

test('HOLD: message goes to the hold queue, logged with its text', async () => {
  await withChecks(async (h) => {
    const id = queued(await h.submit('Subject: hold-me\n\nbody\n'));
    assert.equal(h.store.get(id)?.state, 'hold');
    assert.ok(linesFor(h.log, id).includes(`hold: header Subject: hold-me ${FROM_CLIENT}: for review`));
  });
});

test('IGNORE, REPLACE and PREPEND edit the stored headers', async () => {
  await withChecks(async (h) => {
    const id = queued(
      await h.submit('Subject: prepend-me\nX-Drop: gone\nX-Old: kept value\n  folded\nTo: b@example.org\n\nbody\n'),
    );
    const text = await h.stored(id);
    assert.equal(
      text,
      'X-Flag: prepended\nSubject: prepend-me\nX-New: kept value\n  folded\nTo: b@example.org\n\nbody\n',
    );
  });
});

test('WARN and INFO log and change nothing; DUNNO and OK stop at the first match', async () => {
  await withChecks(async (h) => {
    const w = queued(await h.submit('Subject: warn-me\n\nbody\n'));
    assert.ok(linesFor(h.log, w).includes(`warning: header Subject: warn-me ${FROM_CLIENT}: suspicious`));
    assert.equal(await h.stored(w), 'Subject: warn-me\n\nbody\n');
    const i = queued(await h.submit('Subject: info-me\n\nbody\n'));
    assert.ok(linesFor(h.log, i).includes(`info: header Subject: info-me ${FROM_CLIENT}: noted`));
    queued(await h.submit('Subject: dunno-me\n\nbody\n'));
    // The first matching rule wins: HOLD is listed before WARN.
    const hw = queued(await h.submit('Subject: hold-me warn-me\n\nbody\n'));
    assert.equal(h.store.get(hw)?.state, 'hold');
    assert.ok(!linesFor(h.log, hw).some((l) => l.startsWith('warning:')));
    queued(await h.submit('Subject: ok-me\n\nbody\n'));
  });
});

test('REDIRECT, BCC and FILTER reach the envelope and the log', async () => {
  await withChecks(async (h) => {
    const r = queued(
      await h.submit('Subject: redirect-me\n\nbody\n', { rcpts: ['one@example.org', 'two@example.org'] }),
    );
    const rm = h.store.get(r);
    assert.deepEqual(
      rm?.recipients.map((x) => [x.address, x.original]),
      [
        ['quarantine@example.net', 'one@example.org'],
        ['quarantine@example.net', 'two@example.org'],
      ],
    );
    assert.ok(
      linesFor(h.log, r).includes(
        'redirect: header Subject: redirect-me from client.example[192.0.2.7]; from=<alice@example.com> to=<one@example.org> proto=ESMTP helo=<helo.example>: quarantine@example.net',
      ),
    );
    const b = queued(await h.submit('Subject: bcc-me\n\nbody\n'));
    assert.deepEqual(
      h.store.get(b)?.recipients.map((x) => x.address),
      ['bob@example.org', 'archive@example.net'],
    );
    const f = queued(await h.submit('Subject: filter-me\n\nbody\n'));
    assert.ok(linesFor(h.log, f).includes(`filter: header Subject: filter-me ${FROM_CLIENT}: scan:[127.0.0.1]:10025`));
    assert.equal(h.store.get(f)?.filter, 'scan:[127.0.0.1]:10025');
    assert.equal(h.store.get(b)?.filter, undefined);
    // The FILTER choice is part of the durable envelope: it survives a restart.
    await h.store.close();
    const again = await SegmentStore.open({ queueDirectory: join(h.dir, 'queue'), logger: new MemoryLogger() });
    try {
      assert.equal(again.get(f)?.filter, 'scan:[127.0.0.1]:10025');
      assert.deepEqual(
        again.get(r)?.recipients.map((x) => x.address),
        ['quarantine@example.net', 'quarantine@example.net'],
      );
    } finally {
      await again.close();
    }
  }, false);
});

test('bad actions are logged as warnings and ignored', async () => {
  await withChecks(async (h) => {
    queued(await h.submit('Subject: bogus-me\n\nbody\n'));
    queued(await h.submit('Subject: badredirect\n\nbody\n'));
    const t = h.log.texts();
    assert.ok(t.includes('warning: unknown command in header_checks map: FROBNICATE now'), t.join('\n'));
    assert.ok(t.includes('warning: bad REDIRECT target "nobody" in header_checks map -- need user@domain'));
  });
});

test('a folded header is checked as one multi-line text', async () => {
  await withChecks(async (h) => {
    const id = queued(await h.submit('Subject: multi\n line\n\nbody\n'));
    assert.ok(linesFor(h.log, id).some((l) => l.startsWith('warning: header Subject: multi\n line from ')));
  });
});

test('body_checks: REJECT, IGNORE, REPLACE, PREPEND, HOLD on body lines', async () => {
  await withChecks(async (h) => {
    const rej = await h.submit('Subject: s\n\nfirst\nbody-reject here\n');
    assert.deepEqual(rej, { status: 'rejected', reply: { code: 550, dsn: '5.7.1', text: 'bad body' } });
    assert.ok(h.log.texts().some((l) => l.endsWith(`: reject: body body-reject here ${FROM_CLIENT}: 5.7.1 bad body`)));
    const id = queued(
      await h.submit('Subject: s\n\na\nbody-ignore x\nbody-replace y\nbody-prepend z\nbody-hold\nend\n'),
    );
    assert.equal(await h.stored(id), 'Subject: s\n\na\nreplaced line\ninserted line\nbody-prepend z\nbody-hold\nend\n');
    assert.equal(h.store.get(id)?.state, 'hold');
    assert.ok(linesFor(h.log, id).includes(`hold: body body-hold ${FROM_CLIENT}`));
  });
});

test('local submission is logged "from local" without proto/helo', async () => {
  await withChecks(async (h) => {
    const id = queued(await h.submit('Subject: warn-me\n\nbody\n', { req: { origin: 'sendmail' }, local: true }));
    assert.ok(
      linesFor(h.log, id).includes(
        'warning: header Subject: warn-me from local; from=<alice@example.com> to=<bob@example.org>: suspicious',
      ),
      linesFor(h.log, id).join('\n'),
    );
  });
});

test('a table lookup failure defers the message with 451 4.3.0, logged as Postfix does', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-checks-retry-'));
  const log = new MemoryLogger('postfix/cleanup');
  const store = await SegmentStore.open({ queueDirectory: dir, logger: log });
  try {
    const config = Config.fromText('myhostname = mx.example.net\nheader_checks = tcp:127.0.0.1:9\n');
    const failing: Dict = {
      spec: 'tcp:127.0.0.1:9',
      lookup: () => Promise.reject(new DictRetryError('connection refused')),
      close: () => Promise.resolve(),
    };
    const checks = await createContentChecks({ config, logger: log, openDict: () => Promise.resolve(failing) });
    const tx = await new CleanupServer({ store, config, logger: log, checks }).open({
      origin: 'smtpd',
      sender: 'a@example.com',
    });
    tx.addRecipient({ address: 'b@example.org' });
    tx.write(Buffer.from('Subject: x\r\n\r\nbody\r\n'));
    assert.deepEqual(await tx.commit(), {
      status: 'rejected',
      reply: { code: 451, dsn: '4.3.0', text: 'Error: queue file write error' },
    });
    assert.ok(
      log
        .texts()
        .some((l) =>
          /^warning: \w+: header_checks map lookup problem -- message not accepted, try again later$/.test(l),
        ),
      log.texts().join('\n'),
    );
    assert.equal(store.stats().messages, 0);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
