// postqueue -p / mailq / -j against a real on-disk queue, compared line for
// line with the layout Postfix 3.7's postqueue prints (column widths, `*`
// and `!` markers, right-aligned deferral reasons, "reason unavailable",
// MAILER-DAEMON for the null sender, the Kbytes/Requests summary), plus
// maildrop files, the empty queue, -S, access checks and flush with the
// mail system down.
import { test } from 'node:test';
import { chmod } from 'node:fs/promises';
import { getpw } from '../../src/util/passwd.js';
import assert from 'node:assert/strict';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { QUEUE_FLUSHER, QUEUE_STORE } from '../../src/global/queue/service-keys.js';
import { ServiceDirectory } from '../../src/global/service/directory.js';
import { startControlServer } from '../../src/daemons/flush/flush-service.js';
import { runTool, tempInstall, type Install } from '../sendmail/tools-harness.js';

const ARRIVAL = Date.UTC(2026, 0, 5, 3, 4, 5); // Mon Jan  5 03:04:05 2026
const REFUSED = 'connect to mx.example.org[192.0.2.1]:25: Connection refused';

function body(size: number): Buffer {
  const head = 'Subject: t\r\n\r\n';
  return Buffer.from(head + 'x'.repeat(size - head.length - 2) + '\r\n');
}

async function populate(inst: Install): Promise<void> {
  const store = await SegmentStore.open({ queueDirectory: inst.queueDir, logger: new MemoryLogger('t') });
  const msg = (queueId: string, sender: string, rcpts: string[]) => ({
    queueId,
    arrivalTime: ARRIVAL,
    sender,
    recipients: rcpts.map((a) => ({ address: a, original: a })),
  });
  await store.enqueue({ ...msg('H000000001', 'alice@example.com', ['bob@example.org']), state: 'hold' }, body(1000));
  await store.enqueue(msg('A000000002', '', ['postmaster@example.net']), body(2048));
  await store.setState('A000000002', 'active');
  await store.enqueue(
    msg('D000000003', 'carol@example.com', ['u1@example.org', 'u2@example.org', 'u3@example.com', 'u4@example.com']),
    body(40000),
  );
  await store.recordOutcomes('D000000003', [
    { index: 0, status: 'deferred', dsn: '4.4.1', reason: REFUSED, relay: 'none' },
    { index: 1, status: 'deferred', dsn: '4.4.1', reason: REFUSED, relay: 'none' },
    { index: 2, status: 'sent', dsn: '2.0.0', reason: 'delivered', relay: 'none' },
  ]);
  await store.setState('D000000003', 'deferred', { nextAttempt: ARRIVAL + 300_000 });
  await store.enqueue(msg('I000000004', 'dave@example.com', ['erin@example.org']), body(500));
  await store.close();
}

const pad41 = ' '.repeat(41);

test('postqueue -p and mailq print the queue in Postfix layout', async () => {
  const inst = await tempInstall();
  try {
    await populate(inst);
    const expected =
      '-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n' +
      'H000000001!    1000 Mon Jan  5 03:04:05  alice@example.com\n' +
      `${pad41}bob@example.org\n` +
      '\n' +
      'I000000004      500 Mon Jan  5 03:04:05  dave@example.com\n' +
      `${pad41}erin@example.org\n` +
      '\n' +
      'A000000002*    2048 Mon Jan  5 03:04:05  MAILER-DAEMON\n' +
      `${pad41}postmaster@example.net\n` +
      '\n' +
      'D000000003    40000 Mon Jan  5 03:04:05  carol@example.com\n' +
      `${' '.repeat(76 - REFUSED.length)}(${REFUSED})\n` +
      `${pad41}u1@example.org\n` +
      `${pad41}u2@example.org\n` +
      `${' '.repeat(76 - 'reason unavailable'.length)}(reason unavailable)\n` +
      `${pad41}u4@example.com\n` +
      '\n' +
      '-- 42 Kbytes in 4 Requests.\n';
    const p = await runTool(inst, 'postqueue', ['-p']);
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stdout, expected);
    const m = await runTool(inst, 'mailq', []);
    assert.equal(m.stdout, expected);
    const s = await runTool(inst, 'sendmail', ['-bp']);
    assert.equal(s.stdout, expected);
  } finally {
    await inst.cleanup();
  }
});

test('postqueue -j prints one JSON object per message with Postfix field names', async () => {
  const inst = await tempInstall();
  try {
    await populate(inst);
    const r = await runTool(inst, 'postqueue', ['-j']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    const d = JSON.parse(lines[3] ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(d), [
      'queue_name',
      'queue_id',
      'arrival_time',
      'message_size',
      'forced_expire',
      'sender',
      'recipients',
    ]);
    assert.deepEqual(d, {
      queue_name: 'deferred',
      queue_id: 'D000000003',
      arrival_time: ARRIVAL / 1000,
      message_size: 40000,
      forced_expire: false,
      sender: 'carol@example.com',
      recipients: [
        { address: 'u1@example.org', delay_reason: REFUSED },
        { address: 'u2@example.org', delay_reason: REFUSED },
        { address: 'u4@example.com' },
      ],
    });
    assert.equal((JSON.parse(lines[0] ?? '') as { queue_name: string }).queue_name, 'hold');
    assert.equal((JSON.parse(lines[2] ?? '') as { queue_name: string }).queue_name, 'active');
  } finally {
    await inst.cleanup();
  }
});

test('an empty queue, maildrop files, -S, and flushing a stopped mail system', async () => {
  const inst = await tempInstall();
  try {
    assert.equal((await runTool(inst, 'postqueue', ['-p'])).stdout, 'Mail queue is empty\n');
    assert.equal((await runTool(inst, 'postqueue', ['-j'])).stdout, '');
    await runTool(inst, 'sendmail', ['-f', 'alice@example.com', 'bob@example.org'], 'Subject: s\n\nhi\n');
    const p = await runTool(inst, 'postqueue', ['-p']);
    assert.match(
      p.stdout,
      /^[0-9A-F]{10,12} +\d+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d {2}alice@example\.com\n {41}bob@example\.org\n\n-- 0 Kbytes in 1 Request\.\n$/m,
    );
    const j = JSON.parse((await runTool(inst, 'postqueue', ['-j'])).stdout) as { queue_name: string };
    assert.equal(j.queue_name, 'maildrop');
    const shape = await runTool(inst, 'postqueue', ['-S']);
    assert.match(shape.stdout, /^ +TOTAL +1 +1 /m);
    assert.match(shape.stdout, /^ *example\.org +1 +1 /m);
    const f = await runTool(inst, 'postqueue', ['-f']);
    assert.equal(f.status, 69);
    assert.equal(f.stderr, 'postqueue: fatal: Cannot flush mail queue - mail system is down\n');
    const u = await runTool(inst, 'postqueue', ['-p', '-f']);
    assert.equal(u.status, 64);
  } finally {
    await inst.cleanup();
  }
});

test('authorized_mailq_users denies other users but never root or mail_owner', async () => {
  const inst = await tempInstall('authorized_mailq_users = nobody\n');
  try {
    const r = await runTool(inst, 'postqueue', ['-p']);
    // The invoking user is mail_owner (tempInstall), so Postfix's exemption applies.
    assert.equal(r.status, 0, r.stderr);
  } finally {
    await inst.cleanup();
  }
});

test('postqueue -f, -s and -i reach the running mail system through public/flush', async () => {
  const inst = await tempInstall();
  await populate(inst);
  const store = await SegmentStore.open({ queueDirectory: inst.queueDir, logger: new MemoryLogger('t') });
  const flushed: (string | undefined)[] = [];
  const directory = new ServiceDirectory();
  directory.provide(QUEUE_STORE, store);
  directory.provide(QUEUE_FLUSHER, { flush: (site?: string) => void flushed.push(site) });
  const control = await startControlServer({ queueDirectory: inst.queueDir, directory, logger: new MemoryLogger('f') });
  try {
    assert.equal((await runTool(inst, 'postqueue', ['-f'])).status, 0);
    assert.equal((await runTool(inst, 'sendmail', ['-qRexample.org'])).status, 0);
    await store.setState('D000000003', 'deferred', { nextAttempt: Date.now() + 3_600_000 });
    const r = await runTool(inst, 'postqueue', ['-i', 'D000000003']);
    assert.equal(r.status, 0, r.stderr);
    // Due now, so qmgr's next deferred scan takes it.
    assert.ok((store.get('D000000003')?.nextAttempt ?? Infinity) <= Date.now());
    assert.deepEqual(flushed, [undefined, 'example.org', undefined]);
    const missing = await runTool(inst, 'postqueue', ['-i', 'NOSUCH0001']);
    assert.equal(missing.status, 69);
    assert.equal(missing.stderr, 'postqueue: fatal: NOSUCH0001: no such message\n');
  } finally {
    await control.close();
    await store.close();
    await inst.cleanup();
  }
});

test('a user who cannot read the queue files gets the listing from the running system', async (t) => {
  const nobody = getpw('nobody');
  if (process.getuid?.() !== 0 || !nobody) return t.skip('needs root and a nobody account');
  const inst = await tempInstall();
  await populate(inst);
  // The configuration must be readable by nobody; the queue files stay private to their owner.
  await chmod(inst.dir, 0o755);
  await chmod(inst.configDir, 0o755);
  const probe = await runTool(inst, 'postqueue', ['-p'], '', {}, nobody);
  if (probe.status !== 69 || !/mail system is down/.test(probe.stderr)) {
    await inst.cleanup();
    return t.skip(`the checkout is not usable by nobody: ${probe.stderr}`);
  }
  assert.equal(probe.stderr, 'postqueue: fatal: Queue report unavailable - mail system is down\n');
  const store = await SegmentStore.open({ queueDirectory: inst.queueDir, logger: new MemoryLogger('t') });
  const directory = new ServiceDirectory();
  directory.provide(QUEUE_STORE, store);
  const control = await startControlServer({ queueDirectory: inst.queueDir, directory, logger: new MemoryLogger('f') });
  try {
    const asRoot = await runTool(inst, 'postqueue', ['-p']);
    const asNobody = await runTool(inst, 'postqueue', ['-p'], '', {}, nobody);
    assert.equal(asNobody.status, 0, asNobody.stderr);
    // The same report, except that the live store put the active message back to incoming when
    // it reopened (Postfix's rule), which the on-disk records root reads do not show yet.
    const norm = (t: string): string[] => t.replace('A000000002*', 'A000000002 ').split('\n\n').sort();
    assert.deepEqual(norm(asNobody.stdout), norm(asRoot.stdout));
    assert.match(asNobody.stdout, /^A000000002 {5}2048 Mon Jan {2}5 03:04:05 {2}MAILER-DAEMON$/m);
    assert.match(asNobody.stdout, /\n-- 42 Kbytes in 4 Requests\.\n$/);
  } finally {
    await control.close();
    await store.close();
    await inst.cleanup();
  }
});

test('force-expired mail (postsuper -e/-f) is marked # by -p unless active or held, forced_expire in -j', async () => {
  const inst = await tempInstall();
  try {
    await populate(inst);
    const store = await SegmentStore.open({ queueDirectory: inst.queueDir, logger: new MemoryLogger('t') });
    // Reopening returned the active message to incoming (crash recovery); put it back as populate() left it.
    const states = {
      H000000001: 'hold',
      A000000002: 'active',
      D000000003: 'deferred',
      I000000004: 'incoming',
    } as const;
    for (const [id, state] of Object.entries(states)) await store.setState(id, state, { expired: true });
    await store.close();
    const p = await runTool(inst, 'postqueue', ['-p']);
    const ids = p.stdout
      .split('\n')
      .filter((l) => /^[A-Z]\d{9}/.test(l))
      .map((l) => l.split(' ')[0]);
    assert.deepEqual(ids, ['H000000001!', 'I000000004#', 'A000000002*', 'D000000003#']);
    const j = (await runTool(inst, 'postqueue', ['-j'])).stdout.trimEnd().split('\n');
    assert.deepEqual(
      j.map((l) => (JSON.parse(l) as { forced_expire: boolean }).forced_expire),
      [true, true, true, true],
    );
  } finally {
    await inst.cleanup();
  }
});
