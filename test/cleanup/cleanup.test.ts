// cleanup(8) behaviour through the CleanupService interface over a real
// on-disk store: added headers per origin, Resent- rules, limits and their
// replies, content-check actions, duplicate recipients, storage failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import type { CleanupOpenRequest, CleanupVerdict } from '../../src/global/queue/cleanup-api.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import type { CleanupContentChecks, ContentVerdict } from '../../src/daemons/cleanup/hooks.js';
import { reply } from '../../src/global/smtp/reply.js';
import { readAll, tempQueueDir } from '../queue/helpers.js';

interface Harness {
  store: SegmentStore;
  log: MemoryLogger;
  submit(req: Partial<CleanupOpenRequest>, rcpts: string[], content: string): Promise<CleanupVerdict>;
  stored(id: string): Promise<string>;
  done(): Promise<void>;
}

async function harness(mainCf = '', checks?: CleanupContentChecks, minFree?: number): Promise<Harness> {
  const { dir, cleanup } = await tempQueueDir();
  const log = new MemoryLogger('postfix/cleanup');
  const store = await SegmentStore.open({ queueDirectory: dir, logger: log, ...(minFree ? { minFree } : {}) });
  const config = Config.fromText(`myhostname = mx.example.net\nmydomain = example.net\n${mainCf}`);
  const server = new CleanupServer({ store, config, logger: log, ...(checks ? { checks } : {}) });
  return {
    store,
    log,
    async submit(req, rcpts, content) {
      const tx = await server.open({ origin: 'smtpd', sender: 'alice@example.com', ...req });
      for (const r of rcpts) tx.addRecipient({ address: r });
      tx.write(Buffer.from(content.replace(/\r?\n/g, '\r\n')));
      return tx.commit();
    },
    async stored(id) {
      return (await readAll(store.openContent(id))).toString('utf8');
    },
    async done() {
      await store.close();
      await cleanup();
    },
  };
}

const remote = {
  name: 'unknown',
  reverseName: 'unknown',
  addr: '203.0.113.5',
  port: 4000,
  helo: 'x',
  protocol: 'ESMTP',
};
const loopback = { ...remote, addr: '127.0.0.1' };

function queued(v: CleanupVerdict): string {
  assert.equal(v.status, 'queued', JSON.stringify(v));
  return v.status === 'queued' ? v.queueId : '';
}

test('local submission: missing Message-Id, Date and From are added; envelope qualified with myorigin; Bcc dropped', async () => {
  const h = await harness();
  try {
    const v = await h.submit(
      { origin: 'sendmail', sender: 'bob', fullName: 'Bob Smith', arrivalTime: Date.UTC(2026, 0, 2, 3, 4, 5) },
      ['carol'],
      'Subject: hi\nBcc: secret@example.org\n\nbody\n',
    );
    const id = queued(v);
    const m = h.store.get(id);
    assert.equal(m?.sender, 'bob@mx.example.net');
    assert.deepEqual(
      m?.recipients.map((r) => [r.address, r.original]),
      [['carol@mx.example.net', 'carol']],
    );
    const text = await h.stored(id);
    const headers = text.split('\r\n\r\n')[0] ?? '';
    assert.doesNotMatch(headers, /^Bcc:/im);
    // The Message-Id stamp is the arrival time in UTC.
    assert.match(headers, new RegExp(`^Message-Id: <20260102030405\\.${id}@mx\\.example\\.net>$`, 'm'));
    // Day of month blank-padded to two columns, as Postfix writes it.
    assert.match(headers, /^Date: \w{3}, [ 123]\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4} \(.+\)$/m);
    assert.match(headers, /^From: Bob Smith <bob@mx\.example\.net>$/m);
    assert.ok(text.endsWith('\r\n\r\nbody\r\n'));
    assert.ok(
      h.log.texts().some((l) => new RegExp(`^${id}: message-id=<\\d{14}\\.${id}@mx\\.example\\.net>$`).test(l)),
    );
  } finally {
    await h.done();
  }
});

test('header_from_format = obsolete and undisclosed_recipients_header', async () => {
  const h = await harness(
    'header_from_format = obsolete\nundisclosed_recipients_header = To: undisclosed-recipients:;\n',
  );
  try {
    const id = queued(
      await h.submit({ origin: 'sendmail', sender: 'bob', fullName: 'Bob (B) Smith' }, ['carol'], 'Subject: s\n\nb\n'),
    );
    const text = await h.stored(id);
    assert.match(text, /^From: bob@mx\.example\.net \(Bob {2}B {2}Smith\)$/m);
    assert.match(text, /^To: undisclosed-recipients:;$/m);
    const cc = queued(await h.submit({ origin: 'sendmail' }, ['carol'], 'Cc: c@example.org\n\nb\n'));
    assert.doesNotMatch(await h.stored(cc), /undisclosed/);
  } finally {
    await h.done();
  }
});

test('remote SMTP client: nothing is added and message-id=<> is logged; present Message-ID is logged as is', async () => {
  const h = await harness();
  try {
    const a = queued(await h.submit({ client: remote }, ['x@example.org'], 'Subject: a\n\nbody\n'));
    assert.equal(await h.stored(a), 'Subject: a\r\n\r\nbody\r\n');
    assert.ok(h.log.texts().includes(`${a}: message-id=<>`));
    const b = queued(await h.submit({ client: remote }, ['x@example.org'], 'Message-ID: <m1@example.com>\n\nbody\n'));
    assert.ok(h.log.texts().includes(`${b}: message-id=<m1@example.com>`));
  } finally {
    await h.done();
  }
});

test('local_header_rewrite_clients and always_add_missing_headers decide for SMTP mail', async () => {
  const h = await harness();
  try {
    const a = queued(await h.submit({ client: loopback }, ['x@example.org'], 'Subject: a\n\nbody\n'));
    assert.match(await h.stored(a), /^From: alice@example\.com$/m);
  } finally {
    await h.done();
  }
  const h2 = await harness('always_add_missing_headers = yes\n');
  try {
    const b = queued(await h2.submit({ client: remote }, ['x@example.org'], 'Subject: a\n\nbody\n'));
    assert.match(await h2.stored(b), /^Message-Id: </m);
  } finally {
    await h2.done();
  }
});

test('Resent- headers present: the missing Resent- forms are added, not the plain ones', async () => {
  const h = await harness();
  try {
    const id = queued(
      await h.submit(
        { origin: 'pickup' },
        ['x@example.org'],
        'From: a@example.com\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <o@x>\nResent-To: x@example.org\n\nbody\n',
      ),
    );
    const text = await h.stored(id);
    assert.match(text, /^Resent-Message-Id: </m);
    assert.match(text, /^Resent-Date: /m);
    assert.match(text, /^Resent-From: alice@example\.com$/m);
    assert.equal(text.match(/^Message-I[dD]:/gm)?.length, 1);
    assert.ok(h.log.texts().some((l) => l.startsWith(`${id}: resent-message-id=<`)));
    assert.ok(h.log.texts().includes(`${id}: message-id=<o@x>`));
  } finally {
    await h.done();
  }
});

test('hopcount_limit: too many Received: headers are refused with 554 5.4.0, nothing queued', async () => {
  const h = await harness('hopcount_limit = 5\n');
  try {
    const recv = (n: number): string => Array.from({ length: n }, (_, i) => `Received: from h${i}\n`).join('');
    const v = await h.submit({ client: remote }, ['x@example.org'], `${recv(5)}Subject: loop\n\nbody\n`);
    assert.deepEqual(v, { status: 'rejected', reply: reply(554, '5.4.0', 'Error: too many hops') });
    assert.equal([...h.store.list()].length, 0);
    assert.ok(h.log.texts().some((l) => l.endsWith(': message rejected: hopcount exceeded')));
    queued(await h.submit({ client: remote }, ['x@example.org'], `${recv(4)}Subject: ok\n\nbody\n`));
  } finally {
    await h.done();
  }
});

test('message_size_limit: an oversized message is refused with 552 5.3.4 at commit', async () => {
  const h = await harness('message_size_limit = 1000\n');
  try {
    const v = await h.submit({ client: remote }, ['x@example.org'], `Subject: big\n\n${'y'.repeat(2000)}\n`);
    assert.deepEqual(v, { status: 'rejected', reply: reply(552, '5.3.4', 'Error: message file too big') });
    assert.equal([...h.store.list()].length, 0);
    queued(await h.submit({ client: remote }, ['x@example.org'], `Subject: small\n\n${'y'.repeat(500)}\n`));
  } finally {
    await h.done();
  }
});

test('header_size_limit and header_address_token_limit discard the excess', async () => {
  const h = await harness('header_size_limit = 1024\nheader_address_token_limit = 20\n');
  try {
    const long = `X-Long: ${'a'.repeat(70)}\n${Array.from({ length: 60 }, () => `\t${'b'.repeat(70)}\n`).join('')}`;
    const to = `To: ${Array.from({ length: 50 }, (_, i) => `u${i}@example.org`).join(', ')}\n`;
    const id = queued(await h.submit({ client: remote }, ['x@example.org'], `${long}${to}Subject: s\n\nbody\n`));
    const text = await h.stored(id);
    const xlong = /^X-Long:[^]*?\r\n(?=\S)/m.exec(text)?.[0] ?? '';
    assert.ok(xlong.length > 0 && xlong.length <= 1024, `X-Long kept ${xlong.length} bytes`);
    const toLine = /^To: .*$/m.exec(text)?.[0] ?? '';
    // 20 tokens: u0 @ example . org , u1 @ ... (6 per address) → three full addresses, then `u3` and `@`.
    assert.match(toLine, /^To: u0@example\.org, u1@example\.org, u2@example\.org, u3@$/);
    assert.match(text, /^Subject: s\r\n\r\nbody\r\n/m);
  } finally {
    await h.done();
  }
});

test('content checks: HOLD, IGNORE, REPLACE, DISCARD and REJECT act on the message', async () => {
  const checks: CleanupContentChecks = {
    header(text): Promise<ContentVerdict> {
      if (/^Subject: hold/i.test(text)) return Promise.resolve({ action: 'hold', text: 'held for review' });
      if (/^X-Drop:/i.test(text)) return Promise.resolve({ action: 'ignore' });
      if (/^X-Old:/i.test(text)) return Promise.resolve({ action: 'replace', text: 'X-New: replaced' });
      if (/^Subject: reject/i.test(text))
        return Promise.resolve({ action: 'reject', reply: reply(550, '5.7.1', 'no thanks') });
      return Promise.resolve({ action: 'dunno' });
    },
    body(line): Promise<ContentVerdict> {
      if (line === 'discard me') return Promise.resolve({ action: 'discard', text: 'spam' });
      return Promise.resolve({ action: 'dunno' });
    },
  };
  const h = await harness('', checks);
  const announced: string[] = [];
  h.store.onCommitted((id) => announced.push(id));
  try {
    const held = queued(
      await h.submit({ client: remote }, ['x@example.org'], 'Subject: hold this\nX-Drop: 1\nX-Old: 2\n\nbody\n'),
    );
    assert.equal(h.store.get(held)?.state, 'hold');
    assert.deepEqual(announced, [], 'held mail is not announced to qmgr');
    const text = await h.stored(held);
    assert.doesNotMatch(text, /X-Drop|X-Old/);
    assert.match(text, /^X-New: replaced$/m);
    assert.ok(h.log.texts().some((l) => l.startsWith(`${held}: hold: header Subject: hold this`)));

    const rej = await h.submit({ client: remote }, ['x@example.org'], 'Subject: reject\n\nbody\n');
    assert.deepEqual(rej, { status: 'rejected', reply: reply(550, '5.7.1', 'no thanks') });
    const dis = await h.submit({ client: remote }, ['x@example.org'], 'Subject: fine\n\nline\ndiscard me\n');
    assert.equal(dis.status, 'discarded');
    assert.deepEqual(
      [...h.store.list()].map((m) => m.queueId),
      [held],
    );
  } finally {
    await h.done();
  }
});

test('duplicate recipients are stored once (exact match, as local parts may be case-sensitive)', async () => {
  const h = await harness();
  try {
    const id = queued(
      await h.submit(
        { client: remote },
        ['x@example.org', 'X@example.org', 'y@example.org', 'x@example.org'],
        'Subject: d\n\nb\n',
      ),
    );
    assert.deepEqual(
      h.store.get(id)?.recipients.map((r) => r.address),
      ['x@example.org', 'X@example.org', 'y@example.org'],
    );
  } finally {
    await h.done();
  }
});

test('no space for the queue: 452 4.3.1 Insufficient system storage, nothing queued', async () => {
  const h = await harness('', undefined, Number.MAX_SAFE_INTEGER);
  try {
    const v = await h.submit({ client: remote }, ['x@example.org'], 'Subject: s\n\nb\n');
    assert.deepEqual(v, { status: 'rejected', reply: reply(452, '4.3.1', 'Insufficient system storage') });
    assert.equal([...h.store.list()].length, 0);
  } finally {
    await h.done();
  }
});

test('sendmail -t: recipients come from To:/Cc:/Bcc: (Resent- forms when present) and join the given ones', async () => {
  const h = await harness();
  try {
    const id = queued(
      await h.submit(
        { origin: 'sendmail', sender: 'bob', extractRecipients: true },
        ['carol'],
        'To: Dave <dave@example.org>, carol\nCc: eve@example.org\nBcc: frank\nSubject: t\n\nb\n',
      ),
    );
    assert.deepEqual(
      h.store.get(id)?.recipients.map((r) => r.address),
      ['carol@mx.example.net', 'dave@example.org', 'eve@example.org', 'frank@mx.example.net'],
    );
    assert.doesNotMatch(await h.stored(id), /^Bcc:/m);
    const r = queued(
      await h.submit(
        { origin: 'sendmail', extractRecipients: true },
        [],
        'To: old@example.org\nResent-To: new@example.org\nSubject: t\n\nb\n',
      ),
    );
    assert.deepEqual(
      h.store.get(r)?.recipients.map((x) => x.address),
      ['new@example.org'],
    );
  } finally {
    await h.done();
  }
});

test('no recipients left: 550 5.1.0 Error: no recipients specified', async () => {
  const h = await harness();
  try {
    const v = await h.submit({ origin: 'sendmail', extractRecipients: true }, [], 'Subject: nobody\n\nb\n');
    assert.deepEqual(v, { status: 'rejected', reply: reply(550, '5.1.0', 'Error: no recipients specified') });
    assert.equal([...h.store.list()].length, 0);
  } finally {
    await h.done();
  }
});
