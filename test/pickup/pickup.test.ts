// pickup(8): maildrop files reach the queue through cleanup, damaged files go
// to corrupt/, refused ones go back to their sender as a DSN; the service module
// notices new files without waiting for its timer, and its postdrop socket
// accepts messages from users who cannot write maildrop/ themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readdir, writeFile } from 'node:fs/promises';
import { getpw } from '../../src/util/passwd.js';
import { join } from 'node:path';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { Config } from '../../src/global/params/config.js';
import { listMaildrop, writeMaildrop } from '../../src/global/queue/maildrop.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { CLEANUP_SERVICE } from '../../src/global/queue/service-keys.js';
import { ServiceDirectory } from '../../src/global/service/directory.js';
import type { MasterEntry } from '../../src/global/mastercf/types.js';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import { pickupService } from '../../src/daemons/pickup/pickup-service.js';
import { Pickup } from '../../src/daemons/pickup/pickup.js';
import { createBounceService } from '../../src/daemons/bounce/bounce.js';
import { submitThroughSocket } from '../../src/commands/sendmail/drop-client.js';
import { openPipeline, runTool, tempInstall } from '../sendmail/tools-harness.js';

test('a damaged maildrop file goes to corrupt/; good files around it are queued', async () => {
  const inst = await tempInstall();
  try {
    const env = { sender: 'a@example.com', recipients: ['b@example.org'], arrivalTime: Date.now() };
    await writeMaildrop(inst.queueDir, env, Buffer.from('Subject: 1\r\n\r\nx\r\n'));
    await writeFile(join(inst.queueDir, 'maildrop', '0BADF11E00'), 'PSTRNDRP garbage');
    await writeMaildrop(inst.queueDir, env, Buffer.from('Subject: 2\r\n\r\ny\r\n'));
    const p = await openPipeline(inst);
    try {
      assert.equal(await p.pickup.scan(), 3);
      assert.equal([...p.store.list()].length, 2);
      assert.deepEqual(await listMaildrop(inst.queueDir), []);
      assert.deepEqual(await readdir(join(inst.queueDir, 'corrupt')), ['0BADF11E00']);
      assert.ok(
        p.log
          .texts()
          .some((l) => /^warning: maildrop\/0BADF11E00: not a maildrop file: moved to corrupt\/0BADF11E00$/.test(l)),
      );
    } finally {
      await p.close();
    }
  } finally {
    await inst.cleanup();
  }
});

/** pickup → cleanup → store with bounce(8) injecting notices through the same cleanup; bounce may be switched off. */
async function bouncingPipeline(inst: Awaited<ReturnType<typeof tempInstall>>, withBounce = true, minFree?: number) {
  const log = new MemoryLogger('postfix/pickup');
  const store = await SegmentStore.open({
    queueDirectory: inst.queueDir,
    logger: log,
    ...(minFree !== undefined ? { minFree } : {}),
  });
  const config = Config.fromText(inst.mainCf);
  const cleanup = new CleanupServer({ store, config, logger: log.child('cleanup') });
  const bounce = createBounceService({ config, cleanup, logger: log.child('bounce') });
  const pickup = new Pickup({
    queueDirectory: inst.queueDir,
    cleanup: () => cleanup,
    logger: log,
    bounce: () => (withBounce ? bounce : undefined),
  });
  const notices = async (): Promise<{ to: string[]; text: string }[]> => {
    const out = [];
    for (const m of store.list()) {
      if (m.sender !== '') continue;
      const parts: Buffer[] = [];
      for await (const c of store.openContent(m.queueId)) parts.push(c);
      out.push({ to: m.recipients.map((r) => r.address), text: Buffer.concat(parts).toString('utf8') });
    }
    return out;
  };
  return { store, pickup, log, notices, close: () => store.close() };
}

test('a message cleanup refuses (too big) goes back to the sender as a DSN and leaves maildrop', async () => {
  const inst = await tempInstall('message_size_limit = 20000\nbounce_size_limit = 1000\n');
  try {
    await writeMaildrop(
      inst.queueDir,
      { sender: 'a@example.com', recipients: ['b@example.org', 'c@example.org'], arrivalTime: Date.now() },
      Buffer.from(`Subject: big\r\n\r\n${'z'.repeat(100)}\r\n`.repeat(300)),
    );
    const p = await bouncingPipeline(inst);
    try {
      assert.equal(await p.pickup.scan(), 1);
      assert.deepEqual(await listMaildrop(inst.queueDir), []);
      const texts = p.log.texts();
      const id = /^warning: (\w+): message from maildrop\/\w+ rejected: 552 5\.3\.4 /.exec(
        texts.find((l) => l.includes('rejected: 552')) ?? '',
      )?.[1];
      assert.ok(id, texts.join('\n'));
      assert.ok(
        texts.some((l) =>
          new RegExp(
            `^${id}: to=<c@example\\.org>, relay=none, delay=[\\d.]+, delays=[\\d.]+/0/0/0, dsn=5\\.3\\.4, status=bounced \\(Error: message file too big\\)$`,
          ).test(l),
        ),
        texts.join('\n'),
      );
      assert.ok(texts.some((l) => new RegExp(`^${id}: sender non-delivery notification: \\w+$`).test(l)));
      const [notice, ...more] = await p.notices();
      assert.equal(more.length, 0);
      assert.deepEqual(notice?.to, ['a@example.com']);
      assert.match(notice?.text ?? '', /Content-Type: multipart\/report; report-type=delivery-status/);
      assert.match(notice?.text ?? '', /^Final-Recipient: rfc822; b@example\.org\r$/m);
      assert.match(notice?.text ?? '', /^Status: 5\.3\.4\r$/m);
      assert.match(notice?.text ?? '', /message file too big/);
    } finally {
      await p.close();
    }
  } finally {
    await inst.cleanup();
  }
});

test('without a bounce service a refused message stays in maildrop; the files after it are still queued', async () => {
  const inst = await tempInstall('message_size_limit = 300\n');
  try {
    const env = { sender: 'a@example.com', recipients: ['b@example.org'], arrivalTime: Date.now() };
    await writeMaildrop(inst.queueDir, env, Buffer.from(`Subject: big\r\n\r\n${'z'.repeat(400)}\r\n`));
    await writeMaildrop(inst.queueDir, env, Buffer.from('Subject: small\r\n\r\nx\r\n'));
    const p = await bouncingPipeline(inst, false);
    try {
      assert.equal(await p.pickup.scan(), 1, 'only the small one is taken');
      assert.equal((await listMaildrop(inst.queueDir)).length, 1);
      assert.equal([...p.store.list()].length, 1);
      assert.ok(
        p.log.texts().some((l) => /^warning: \w+: bounce service unavailable; maildrop\/\w+ kept for a retry$/.test(l)),
      );
    } finally {
      await p.close();
    }
  } finally {
    await inst.cleanup();
  }
});

test('a temporary refusal (queue file system full: 452) keeps the file and sends no notice', async () => {
  const inst = await tempInstall();
  try {
    const env = { sender: 'a@example.com', recipients: ['b@example.org'], arrivalTime: Date.now() };
    await writeMaildrop(inst.queueDir, env, Buffer.from('Subject: s\r\n\r\nx\r\n'));
    const p = await bouncingPipeline(inst, true, Number.MAX_SAFE_INTEGER);
    try {
      assert.equal(await p.pickup.scan(), 0);
      assert.equal((await listMaildrop(inst.queueDir)).length, 1);
      assert.equal([...p.store.list()].length, 0);
      assert.ok(
        p.log
          .texts()
          .some((l) => /^warning: \w+: message from maildrop\/\w+ deferred: 452 4\.3\.1 .*; kept for a retry$/.test(l)),
        p.log.texts().join('\n'),
      );
    } finally {
      await p.close();
    }
  } finally {
    await inst.cleanup();
  }
});

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('the pickup service takes new mail at once and accepts mail over public/pickup', async () => {
  const inst = await tempInstall();
  const log = new MemoryLogger('postfix/pickup');
  const store = await SegmentStore.open({ queueDirectory: inst.queueDir, logger: log });
  const config = Config.fromText(inst.mainCf);
  const directory = new ServiceDirectory();
  directory.provide(CLEANUP_SERVICE, new CleanupServer({ store, config, logger: log.child('cleanup') }));
  const entry = {
    name: 'pickup',
    type: 'fifo',
    columns: ['n', '-', 'n', '3600', '1'],
    private: false,
    unpriv: true,
    chroot: false,
    wakeup: 3600, // far away: only change notification and the socket can explain a quick pickup
    wakeupConditional: false,
    maxproc: 1,
    command: 'pickup',
    args: [],
    overrides: new Map(),
    line: 1,
  } satisfies MasterEntry;
  const running = await pickupService.start({ entry, config, logger: log, listeners: [], directory });
  try {
    const r = await runTool(inst, 'sendmail', ['-f', 'a@example.com', 'watch@example.org'], 'Subject: w\n\nx\n');
    assert.equal(r.status, 0, r.stderr);
    await until('the watched file to be queued', () =>
      [...store.list()].some((m) => m.recipients[0]?.address === 'watch@example.org'),
    );

    const id = await submitThroughSocket(
      join(inst.queueDir, 'public', 'pickup'),
      { sender: 'u@example.com', recipients: ['sock@example.org'], arrivalTime: 0, uid: 1234 },
      Buffer.from('Subject: via socket\r\n\r\nbody\r\n'),
    );
    assert.match(id, /^[0-9A-F]+$/);
    await until('the socket submission to be queued', () =>
      [...store.list()].some((m) => m.recipients[0]?.address === 'sock@example.org'),
    );
    assert.ok(log.texts().some((l) => /^\w+: uid=1234 from=<u@example\.com>$/.test(l)));
    assert.deepEqual(await listMaildrop(inst.queueDir), []);
    // sendmail -bv through the socket: the verify-only flag reaches the queue file; other mail has none.
    await submitThroughSocket(
      join(inst.queueDir, 'public', 'pickup'),
      { sender: 'u@example.com', recipients: ['vrfy@example.org'], arrivalTime: 0, verifyOnly: true },
      Buffer.from('From: u@example.com\r\nSubject: probe\r\n'),
    );
    await until('the verify-only submission to be queued', () =>
      [...store.list()].some((m) => m.recipients[0]?.address === 'vrfy@example.org'),
    );
    const byRcpt = new Map([...store.list()].map((m) => [m.recipients[0]?.address, m]));
    assert.equal(byRcpt.get('vrfy@example.org')?.verifyOnly, true);
    assert.equal(byRcpt.get('sock@example.org')?.verifyOnly, undefined);

    // A user who may not write maildrop/ (mode 0730, owned by mail_owner) is served by the socket.
    const nobody = getpw('nobody');
    if (process.getuid?.() === 0 && nobody) {
      await chmod(inst.dir, 0o755);
      await chmod(inst.configDir, 0o755);
      const u = await runTool(inst, 'sendmail', ['nobody-rcpt@example.org'], 'Subject: n\n\nx\n', {}, nobody);
      if (!/Cannot find module|EACCES.*dist/.test(u.stderr)) {
        assert.equal(u.status, 0, u.stderr);
        await until('the unprivileged submission to be queued', () =>
          [...store.list()].some((m) => m.recipients[0]?.address === 'nobody-rcpt@example.org'),
        );
        assert.ok(log.texts().some((l) => new RegExp(`^\\w+: uid=${nobody.uid} from=<nobody>$`).test(l)));
      }
    }
  } finally {
    await running.stop(true);
    await store.close();
    await inst.cleanup();
  }
});
