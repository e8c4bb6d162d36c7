// The long-lived mailbox writers (local/helper-pool.ts, postern-deliver
// serve) as root with real users: a helper is reused for many deliveries,
// one killed mid-delivery defers that recipient and is replaced, a helper
// started for one user never serves another, and the pool stays within its
// limits (overflow runs single-shot and still delivers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createLocalAgent } from '../../src/daemons/local/local.js';
import { resetHelperPool, appendMbox, type LockSettings } from '../../src/daemons/local/mail-writer.js';
import { DEFAULT_POOL_LIMITS, encodeRequest } from '../../src/daemons/local/helper-pool.js';
import { spawn } from 'node:child_process';
import { chown } from 'node:fs/promises';
import { HELPER_PATH } from '../../src/daemons/local/mail-writer.js';
import { ensureUser, openDir, request, MESSAGE, serveRaw, skipReason } from './harness.js';

const skip = skipReason();
const HOST = 'mx.example.com';
const LOCK: LockSettings = { methods: ['dotlock'], attempts: 400, delaySeconds: 0, staleSeconds: 500 };

function agent(dir: string, extra = ''): ReturnType<typeof createLocalAgent> {
  return createLocalAgent({
    config: Config.fromText(
      `myhostname = ${HOST}\nmydestination = ${HOST}\nmail_spool_directory = ${dir}/spool\n` +
        `alias_maps =\nforward_path = ${dir}/$user.forward\ndeliver_lock_delay = 0s\n${extra}`,
    ),
    logger: new MemoryLogger('postfix/local'),
  });
}

async function spoolDir(t: Parameters<typeof openDir>[0]): Promise<string> {
  const dir = await openDir(t, 'pool');
  await mkdir(`${dir}/spool`);
  await chmod(`${dir}/spool`, 0o1777);
  return dir;
}

/** The real and effective uid/gid of a process, from /proc. */
async function procIds(pid: number): Promise<string> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
  const gid = /^Gid:\s+(\d+)\s+(\d+)/m.exec(status);
  const groups = /^Groups:[ \t]*(.*)$/m.exec(status)?.[1]?.trim() ?? '?';
  return `${uid?.[1]}/${uid?.[2]}:${gid?.[1]}/${gid?.[2]} groups=[${groups}]`;
}

/** Wait (bounded) until `pred` holds. */
async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 800 && !pred(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(pred(), `timed out waiting for ${what}`);
}

test('two deliveries to one user are written by one helper process', { skip }, async (t) => {
  const u = ensureUser('pstlocal1');
  const dir = await spoolDir(t);
  const pool = resetHelperPool();
  t.after(() => pool.closeAll());
  const a = agent(dir);
  for (let i = 0; i < 3; i++) {
    const [o] = await a.deliver(request({ recipients: [`pstlocal1@${HOST}`], content: `${MESSAGE}n${i}\n` }));
    assert.equal(o?.status, 'sent', o?.reason);
  }
  const s = pool.stats();
  assert.equal(s.started, 1, 'one helper for all three deliveries');
  assert.equal(s.helpers.length, 1);
  // No .forward exists (a root stat finds that), so each delivery is one mailbox append.
  assert.equal(s.helpers[0]?.served, 3);
  const text = await readFile(`${dir}/spool/pstlocal1`, 'utf8');
  assert.equal(text.split(/^From sender@example\.org /m).length - 1, 3);
  assert.equal((await stat(`${dir}/spool/pstlocal1`)).uid, u.uid);
});

test(
  'a helper killed mid-delivery defers the recipient (4.3.0); a new helper delivers next time',
  { skip },
  async (t) => {
    ensureUser('pstlocal1');
    const dir = await spoolDir(t);
    const pool = resetHelperPool();
    t.after(() => pool.closeAll());
    const a = agent(dir, 'deliver_lock_attempts = 400\nmailbox_delivery_lock = dotlock\n');
    const mbox = `${dir}/spool/pstlocal1`;
    await writeFile(`${mbox}.lock`, '');
    const pending = a.deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
    // The .forward read finishes; the append then waits for the dotlock.
    let settled: unknown;
    void pending.then((v) => (settled = v));
    await until(() => settled !== undefined || pool.stats().helpers.some((h) => h.busy), 'the append to start');
    assert.deepEqual(settled, undefined, 'the delivery waits for the lock');
    const victim = pool.stats().helpers[0]?.pid;
    assert.ok(victim);
    process.kill(victim, 'SIGKILL');
    const [o] = await pending;
    assert.equal(o?.status, 'deferred');
    assert.equal(o?.dsn, '4.3.0');
    assert.match(o?.reason ?? '', /delivery helper killed by signal SIGKILL/);
    // The request's orphaned child sees its helper gone and rolls back once it gets the lock.
    await unlink(`${mbox}.lock`);
    await new Promise((r) => setTimeout(r, 300));
    const size = await stat(mbox).then(
      (st) => st.size,
      () => 0,
    );
    assert.equal(size, 0, 'the orphaned request rolled back');
    const [again] = await a.deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
    assert.equal(again?.status, 'sent', again?.reason);
    const s = pool.stats();
    assert.equal(s.started, 2);
    assert.notEqual(s.helpers[0]?.pid, victim);
    assert.match(await readFile(mbox, 'utf8'), /^From sender@example\.org /);
  },
);

test('a helper started for one user never serves another; each runs as exactly its user', { skip }, async (t) => {
  const u1 = ensureUser('pstlocal1');
  const u2 = ensureUser('pstlocal2');
  const dir = await spoolDir(t);
  const pool = resetHelperPool();
  t.after(() => pool.closeAll());
  const a = agent(dir);
  for (const rcpt of ['pstlocal1', 'pstlocal2', 'pstlocal1', 'pstlocal2']) {
    const [o] = await a.deliver(request({ recipients: [`${rcpt}@${HOST}`], content: MESSAGE }));
    assert.equal(o?.status, 'sent', o?.reason);
  }
  const s = pool.stats();
  assert.equal(s.started, 2);
  const byKey = new Map(s.helpers.map((h) => [h.key, h]));
  assert.deepEqual([...byKey.keys()].sort(), [`${u1.uid}:${u1.gid}`, `${u2.uid}:${u2.gid}`].sort());
  for (const u of [u1, u2]) {
    const h = byKey.get(`${u.uid}:${u.gid}`);
    assert.ok(h?.pid);
    assert.equal(h.served, 2);
    assert.equal(await procIds(h.pid), `${u.uid}/${u.uid}:${u.gid}/${u.gid} groups=[]`);
    assert.equal((await stat(`${dir}/spool/${u.name}`)).uid, u.uid);
  }
  // A request for user 2 handed to user 1's identity could only write what user 1 may: the kernel refuses.
  const cross = await appendMbox({ ok: true, uid: u1.uid, gid: u1.gid }, `${dir}/spool/pstlocal2`, Buffer.from('x\n'), {
    lock: LOCK,
    limit: 0,
    ownerCheck: true,
  });
  assert.equal(cross.ok, false);
});

test(
  'the pool stays within its limits: LRU eviction, per-identity cap, overflow runs single-shot',
  { skip },
  async (t) => {
    const users = ['pstlocal1', 'pstlocal2', 'pstlocal3'].map((n) => ensureUser(n));
    const dir = await spoolDir(t);
    const pool = resetHelperPool({ ...DEFAULT_POOL_LIMITS, maxHelpers: 2, perIdentity: 1 });
    t.after(() => pool.closeAll());
    const a = agent(dir);
    for (const u of users) {
      const [o] = await a.deliver(request({ recipients: [`${u.name}@${HOST}`], content: MESSAGE }));
      assert.equal(o?.status, 'sent', o?.reason);
      assert.ok(pool.stats().alive <= 2);
    }
    const s = pool.stats();
    assert.equal(s.started, 3);
    assert.deepEqual(
      s.helpers.map((h) => h.key),
      users.slice(1).map((u) => `${u.uid}:${u.gid}`),
      'the least recently used helper was closed',
    );
    // With user 3's only helper busy (waiting for a lock), another request for user 3 runs single-shot.
    const u3 = users[2];
    assert.ok(u3);
    const who = { ok: true as const, uid: u3.uid, gid: u3.gid };
    const mbox = `${dir}/spool/pstlocal3`;
    await writeFile(`${mbox}.lock`, '');
    const blocked = appendMbox(who, mbox, Buffer.from('From a\nfirst\n'), { lock: LOCK, limit: 0, ownerCheck: true });
    await until(() => pool.stats().helpers.some((h) => h.busy), 'the helper to be busy');
    const other = await appendMbox(who, `${dir}/spool/pstlocal3-other`, Buffer.from('second\n'), {
      lock: { ...LOCK, methods: ['fcntl'] },
      limit: 0,
      ownerCheck: true,
    });
    assert.equal(other.ok, true);
    assert.equal(pool.stats().overflow, 1);
    assert.equal(pool.stats().alive, 2);
    await unlink(`${mbox}.lock`);
    assert.equal((await blocked).ok, true);
    assert.match(await readFile(mbox, 'utf8'), /first\n$/);
    assert.deepEqual((await readdir(`${dir}/spool`)).sort(), [
      'pstlocal1',
      'pstlocal2',
      'pstlocal3',
      'pstlocal3-other',
    ]);
  },
);

test('requests are framed: NUL-free arguments, 64 KiB chunks, a zero-length end', () => {
  const b = Buffer.concat(encodeRequest(['read', '/x'], Buffer.alloc(70_000, 0x61)));
  assert.equal(b.readUInt32BE(0), 14);
  assert.equal(b.subarray(4, 18).toString('latin1'), '70000\0read\0/x\0');
  assert.equal(b.readUInt32BE(18), 65_536);
  assert.equal(b.readUInt32BE(22 + 65_536), 70_000 - 65_536);
  assert.equal(b.readUInt32BE(b.length - 4), 0);
  assert.equal(b.length, 18 + 4 + 65_536 + 4 + 4_464 + 4);
  assert.throws(() => encodeRequest(['read', 'a\0b'], undefined), /NUL/);
});

test('a batch given as separate buffers is framed exactly as its joined bytes would be', () => {
  // Sizes around the 64 KiB chunk edge: pieces that end on it, straddle it and fill several chunks.
  const sizes = [[1024, 1024, 3], [65_536], [65_535, 2], [40_000, 40_000, 70_000], [0, 5, 0], []];
  for (const list of sizes) {
    const pieces = list.map((n, i) => Buffer.alloc(n, 0x61 + i));
    const args = ['maildirs', '/m/', '0', String(list.length)];
    const split = Buffer.concat(encodeRequest(args, pieces));
    const joined = Buffer.concat(encodeRequest(args, Buffer.concat(pieces)));
    assert.deepEqual(split, joined, `sizes ${list.join(',')}`);
  }
});

test(
  'content cut short or malformed framing: the helper exits and the mailbox is left as it was',
  { skip },
  async (t) => {
    const u = ensureUser('pstlocal1');
    const dir = await spoolDir(t);
    const mbox = `${dir}/spool/pstlocal1`;
    await writeFile(mbox, 'old\n', { mode: 0o600 });
    await chown(mbox, u.uid, u.gid);
    const args = ['mbox', mbox, 'fcntl', '0', '1', '3', '0', '500', '0'];
    const whole = Buffer.concat(encodeRequest(args, Buffer.alloc(100_000, 0x62)));
    const cases = [
      // The stream ends in the middle of the content, as when the delivery process dies.
      whole.subarray(0, whole.length - 20_000),
      // A chunk longer than 64 KiB.
      Buffer.concat([whole.subarray(0, 4 + whole.readUInt32BE(0)), Buffer.from([0, 2, 0, 0]), Buffer.alloc(0x20000)]),
      // Chunks adding up to more than the announced length.
      Buffer.concat([
        ...encodeRequest(args, Buffer.alloc(10)).slice(0, 2),
        Buffer.from([0, 0, 0, 11]),
        Buffer.alloc(11),
      ]),
    ];
    for (const input of cases) {
      const child = spawn(HELPER_PATH, ['serve'], { uid: u.uid, gid: u.gid, stdio: ['pipe', 'pipe', 'inherit'] });
      const out: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stdin.on('error', () => undefined);
      const code = await new Promise<number | null>((resolve) => {
        child.on('close', (c) => resolve(c));
        child.stdin.end(input);
      });
      assert.equal(code, 3);
      assert.equal(Buffer.concat(out).length, 0, 'no response for a malformed request');
      assert.equal(await readFile(mbox, 'utf8'), 'old\n');
    }
  },
);

test(
  'single-shot: content shorter than POSTERN_DELIVER_SIZE is rolled back, the exact length delivered',
  { skip },
  async (t) => {
    const u = ensureUser('pstlocal1');
    const dir = await spoolDir(t);
    const mbox = `${dir}/spool/pstlocal1`;
    await writeFile(mbox, 'old\n', { mode: 0o600 });
    await chown(mbox, u.uid, u.gid);
    const args = ['mbox', mbox, 'fcntl', '0', '1', '3', '0', '500', '0'];
    const run = (size: number, input: Buffer): Promise<number | null> =>
      new Promise((resolve) => {
        const child = spawn(HELPER_PATH, args, {
          uid: u.uid,
          gid: u.gid,
          env: { PATH: '/usr/bin:/bin', POSTERN_DELIVER_SIZE: String(size) },
          stdio: ['pipe', 'ignore', 'ignore'],
        });
        child.stdin.on('error', () => undefined);
        child.on('close', (c) => resolve(c));
        child.stdin.end(input);
      });
    const body = Buffer.from('From a@b Thu Nov 26 00:00:00 2026\nSubject: x\n\nbody\n\n');
    // As when the delivery process dies while the helper reads: fewer bytes than stated.
    assert.notEqual(await run(body.length + 100, body), 0);
    assert.equal(await readFile(mbox, 'utf8'), 'old\n', 'cut-short content is not delivered');
    assert.equal(await run(body.length, body), 0);
    assert.equal(await readFile(mbox, 'utf8'), `old\n${body.toString('latin1')}`);
  },
);

test(
  'maildir requests in the helper itself: cut-short content is never linked into new/ and leaves nothing in tmp/',
  { skip },
  async (t) => {
    const u = ensureUser('pstlocal1');
    const dir = await openDir(t, 'md');
    const md = `${dir}/Maildir/`;
    await mkdir(dir, { recursive: true });
    await chown(dir, u.uid, u.gid);
    const whole = Buffer.concat(encodeRequest(['maildir', md, '0', 'one.host'], Buffer.alloc(100_000, 0x62)));
    // A complete request creates the maildir and delivers; the helper then waits for the next one.
    const ok = await serveRaw(u, whole);
    assert.equal(ok.code, 0);
    assert.deepEqual(ok.responses, [{ status: 0, text: '' }]);
    assert.deepEqual(await readdir(`${md}new`), ['one.host']);
    assert.equal((await stat(`${md}new/one.host`)).size, 100_000);
    // The same request with its stream ending inside the content, as when the delivery process dies.
    const cut = Buffer.concat(encodeRequest(['maildir', md, '0', 'two.host'], Buffer.alloc(100_000, 0x62)));
    const broken = await serveRaw(u, cut.subarray(0, cut.length - 20_000));
    assert.equal(broken.code, 3);
    assert.deepEqual(broken.responses, []);
    assert.deepEqual(await readdir(`${md}new`), ['one.host']);
    assert.deepEqual(await readdir(`${md}tmp`), []);
  },
);

test(
  'maildir in the helper: over the size limit fails 5.2.2, and the limit does not outlive its request',
  { skip },
  async (t) => {
    const u = ensureUser('pstlocal1');
    const dir = await openDir(t, 'md');
    await chown(dir, u.uid, u.gid);
    const md = `${dir}/Maildir/`;
    const requests = [
      encodeRequest(['maildir', md, '1000', 'big.host'], Buffer.alloc(5000, 0x61)),
      encodeRequest(['maildir', md, '0', 'after.host'], Buffer.alloc(5000, 0x61)),
      encodeRequest(['maildir', md, '9000', 'fits.host'], Buffer.alloc(5000, 0x61)),
      encodeRequest(['maildir', md, 'x', 'bad.host'], Buffer.alloc(10, 0x61)),
      encodeRequest(['maildir', md, '0', '../escape'], Buffer.alloc(10, 0x61)),
    ];
    const r = await serveRaw(u, Buffer.concat(requests.flat()));
    assert.equal(r.code, 0);
    assert.equal(r.responses.length, 5);
    assert.equal(r.responses[0]?.status, 1);
    assert.match(r.responses[0]?.text ?? '', /^5\.2\.2 create maildir file .*big\.host: File too large\n$/);
    assert.deepEqual(r.responses[1], { status: 0, text: '' });
    assert.deepEqual(r.responses[2], { status: 0, text: '' });
    assert.match(r.responses[3]?.text ?? '', /^4\.3\.0 bad limit argument: x\n$/);
    assert.match(r.responses[4]?.text ?? '', /^4\.3\.0 bad unique name\n$/);
    assert.deepEqual((await readdir(`${md}new`)).sort(), ['after.host', 'fits.host']);
    assert.deepEqual(await readdir(`${md}tmp`), []);
  },
);
