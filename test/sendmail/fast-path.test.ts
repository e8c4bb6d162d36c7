// sendmail's native fast path (native/postern-sendmail.c) against the Node
// sendmail: for the invocations the front handles, both must leave the same
// maildrop file (envelope and content; only the arrival time differs), read
// by the one reader in global/queue/maildrop.ts; for everything else the
// front must hand over to Node before reading standard input. Runs bin/sendmail
// the way a MUA does (exec, #! line); with Node's directory missing from PATH,
// only the native front can succeed, which shows which path ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listMaildrop, MaildropError, readMaildrop, type MaildropMessage } from '../../src/global/queue/maildrop.js';
import { getpw } from '../../src/util/passwd.js';
import { readAll } from '../queue/helpers.js';
import {
  binDir,
  nativeSendmail,
  openPipeline,
  projectRoot,
  runDirect,
  runTool,
  tempInstall,
  type Install,
} from './tools-harness.js';

const NO_NODE = '/nonexistent-postern-test-path';
const skip = existsSync(nativeSendmail) ? false : `${nativeSendmail} was not built (no C compiler?)`;

async function takeOne(inst: Install): Promise<MaildropMessage> {
  const ids = await listMaildrop(inst.queueDir);
  assert.equal(ids.length, 1, `maildrop holds ${ids.length} files`);
  const id = ids[0] ?? '';
  const m = await readMaildrop(inst.queueDir, id);
  await unlink(join(inst.queueDir, 'maildrop', id));
  return m;
}

function comparable(m: MaildropMessage): unknown {
  const { arrivalTime, ...rest } = m.envelope;
  assert.ok(Math.abs(arrivalTime - Date.now()) < 600_000, 'arrival time is now');
  return { envelope: rest, content: m.content.toString('latin1') };
}

const CASES: { name: string; args: string[]; input: string | Buffer }[] = [
  { name: 'plain', args: ['bob@example.org'], input: 'Subject: a\n\nbody\n' },
  { name: 'lone dot ends', args: ['-f', 'a@example.com', 'b@example.org'], input: 'S: x\n\n1\n.\n2\n' },
  { name: '-i keeps dots', args: ['-i', 'b@example.org'], input: 'S: x\n\n1\n.\n..2\n' },
  { name: '-oi keeps dots', args: ['-oi', '-oem', 'b@example.org'], input: 'S: x\n\n.\n3\n' },
  { name: 'From_ line, CRLF mix', args: ['b@example.org'], input: 'From x Mon\r\nS: y\r\n\nline\r\nlast' },
  { name: 'From_ later stays', args: ['b@example.org'], input: 'S: y\n\nFrom here\n' },
  { name: 'empty input', args: ['b@example.org'], input: '' },
  { name: '-t', args: ['-t'], input: 'To: b@example.org\nS: t\n\nx\n' },
  { name: 'clustered -ti and attached -f', args: ['-ti', '-fa@example.com', 'c@example.org'], input: 'a\n.\nb\n' },
  { name: '-F with quotes and controls', args: ['-F', 'Al "Q" \\ \t\u0001 Ünï', 'b@example.org'], input: 'x\n' },
  { name: '-f <addr>, -r, --', args: ['-f', '<a@example.com>', '-r', 'r@example.com', '--', 'b@x.org'], input: 'x\n' },
  { name: 'cron (Debian)', args: ['-FCronDaemon', '-i', '-B8BITMIME', '-oem', 'root@example.org'], input: 'x\n' },
  {
    name: 'DSN options',
    args: ['-N', ' success, delay ', '-R', 'hdrs', '-V', 'env-"42"', '-B', '7bit', 'b@example.org'],
    input: 'x\n',
  },
  { name: '-N never, attached', args: ['-Nnever', '-Rfull', 'b@example.org'], input: 'x\n' },
  { name: 'null sender', args: ['-f', '', '-bm', 'b@example.org', 'c@example.org'], input: 'x\n' },
  {
    name: 'binary bytes',
    args: ['b@example.org'],
    input: Buffer.from([0x53, 0x3a, 0xff, 0x00, 0x0d, 0x0a, 0x0a, 0x80]),
  },
];

test('the native front and the Node sendmail write the same maildrop files', { skip }, async () => {
  const inst = await tempInstall();
  try {
    for (const c of CASES) {
      const env = { NAME: '' };
      const fast = await runDirect(inst, 'sendmail', c.args, c.input, { path: NO_NODE, env });
      assert.equal(fast.status, 0, `${c.name}: ${fast.stderr}`);
      const a = comparable(await takeOne(inst));
      const slow = await runTool(inst, 'sendmail', c.args, c.input, env);
      assert.equal(slow.status, 0, `${c.name}: ${slow.stderr}`);
      const b = comparable(await takeOne(inst));
      assert.deepEqual(a, b, c.name);
    }
    // Installed as npm links bins (a symlink elsewhere), the front is still found; only readlink is on PATH.
    const tools = join(inst.dir, 'tools');
    await mkdir(tools);
    await symlink(execFileSync('/bin/sh', ['-c', 'command -v readlink']).toString().trim(), join(tools, 'readlink'));
    const link = join(inst.dir, 'sendmail-link');
    await symlink(join(binDir, 'sendmail'), link);
    const viaLink = await new Promise<number | null>((res) => {
      const c = spawn(link, ['b@example.org'], { env: { MAIL_CONFIG: inst.configDir, PATH: tools }, stdio: 'pipe' });
      c.on('close', res);
      c.stdin.end('via link\n');
    });
    assert.equal(viaLink, 0);
    assert.equal((await takeOne(inst)).content.toString(), 'via link\r\n');
    // -C may name main.cf itself; NAME gives the full name.
    const r = await runDirect(inst, 'sendmail', ['-C', join(inst.configDir, 'main.cf'), 'b@example.org'], 'x\n', {
      path: NO_NODE,
      env: { MAIL_CONFIG: '/nonexistent', NAME: 'Named User' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await takeOne(inst)).envelope.fullName, 'Named User');
  } finally {
    await inst.cleanup();
  }
});

test('a fast-path message goes through pickup and cleanup like any other', { skip }, async () => {
  const inst = await tempInstall();
  try {
    const r = await runDirect(
      inst,
      'sendmail',
      ['-F', 'Alice', '-f', 'alice@example.com', 'bob@example.org'],
      'Subject: s\n\nhi\n',
      {
        path: NO_NODE,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const p = await openPipeline(inst);
    try {
      assert.equal(await p.pickup.scan(), 1);
      const [m] = [...p.store.list()];
      assert.ok(m);
      assert.equal(m.sender, 'alice@example.com');
      assert.deepEqual(
        m.recipients.map((x) => x.address),
        ['bob@example.org'],
      );
      const text = (await readAll(p.store.openContent(m.queueId))).toString();
      assert.match(text, /^From: Alice <alice@example\.com>\r$/m);
      assert.match(text, /\r\n\r\nhi\r\n$/);
    } finally {
      await p.close();
    }
  } finally {
    await inst.cleanup();
  }
});

test('everything the front does not handle goes to Node before standard input is read', { skip }, async () => {
  const inst = await tempInstall();
  try {
    const handedOver: { why: string; args: string[]; extraMainCf?: string }[] = [
      { why: 'bad DSN option', args: ['-N', 'never,success', 'b@example.org'] },
      { why: 'bad body type', args: ['-B', 'binarymime', 'b@example.org'] },
      { why: 'verbose', args: ['-v', 'b@example.org'] },
      { why: 'address list', args: ['Bob <b@example.org>, c@example.org'] },
      { why: 'no recipients', args: [] },
      { why: 'other mode', args: ['-bp'] },
      { why: 'verify mode', args: ['-bv', 'b@example.org'] },
      { why: 'expansion in main.cf', args: ['b@example.org'], extraMainCf: 'queue_directory = $data_directory\n' },
      { why: 'restricted submitters', args: ['b@example.org'], extraMainCf: 'authorized_submit_users = root\n' },
    ];
    for (const h of handedOver) {
      await writeFile(join(inst.configDir, 'main.cf'), inst.mainCf + (h.extraMainCf ?? ''));
      const r = await runDirect(inst, 'sendmail', h.args, 'Subject: h\n\nx\n', { path: NO_NODE });
      assert.equal(r.status, 71, `${h.why}: ${r.status} ${r.stderr}`);
      assert.equal(r.stderr, 'sendmail: fatal: execvp node: No such file or directory\n', h.why);
    }
    await writeFile(join(inst.configDir, 'main.cf'), inst.mainCf);
    // With Node on PATH the same invocations work, with Node's answers.
    const dsn = await runDirect(inst, 'sendmail', ['-N', 'never,success', 'b@example.org'], 'Subject: h\n\nx\n');
    assert.equal(dsn.status, 64);
    assert.equal(dsn.stderr, 'sendmail: fatal: bad -N option value: never,success\n');
    const list = await runDirect(inst, 'sendmail', ['Bob <b@example.org>, c@example.org'], 'x\n');
    assert.equal(list.status, 0, list.stderr);
    assert.deepEqual((await takeOne(inst)).envelope.recipients, ['b@example.org', 'c@example.org']);
    // -bv: Node queues a verify-only probe instead of the (unread) input.
    const vrfy = await runDirect(inst, 'sendmail', ['-bv', '-f', 'a@example.org', 'b@example.org'], 'not read\n');
    assert.equal(vrfy.status, 0, vrfy.stderr);
    assert.equal(vrfy.stdout, 'Mail Delivery Status Report will be mailed to <a@example.org>.\n');
    const probe = await takeOne(inst);
    assert.equal(probe.envelope.verifyOnly, true);
    assert.deepEqual(probe.envelope.recipients, ['b@example.org']);
    assert.equal(probe.content.toString(), 'From: a@example.org\r\nSubject: probe\r\nTo:\tb@example.org\r\n');
    const none = await runDirect(inst, 'sendmail', [], 'x\n');
    assert.equal(none.status, 64);
    assert.equal(
      none.stderr,
      'sendmail: fatal: Recipient addresses must be specified on the command line or via the -t option\n',
    );
  } finally {
    await inst.cleanup();
  }
});

test('the front enforces message_size_limit as the Node path does and leaves nothing behind', { skip }, async () => {
  const inst = await tempInstall('message_size_limit = 100\n');
  try {
    const big = `Subject: x\n\n${'y'.repeat(200)}\n`;
    for (const r of [
      await runDirect(inst, 'sendmail', ['b@example.org'], big, { path: NO_NODE }),
      await runTool(inst, 'sendmail', ['b@example.org'], big),
    ]) {
      assert.equal(r.status, 65);
      assert.equal(r.stderr, 'sendmail: fatal: message file too big\n');
    }
    assert.deepEqual(await readdir(join(inst.queueDir, 'maildrop')), []);
    // Exactly at the limit (CRLF form) is fine.
    const fits = `${'z'.repeat(98)}\n`;
    assert.equal((await runDirect(inst, 'sendmail', ['b@example.org'], fits, { path: NO_NODE })).status, 0);
  } finally {
    await inst.cleanup();
  }
});

const nobody = getpw('nobody');
const asRoot = process.getuid?.() === 0;

test(
  'as root the file is handed to mail_owner; an unprivileged user goes through the pickup socket',
  { skip: skip || (!asRoot || !nobody ? 'needs root and the user nobody' : false) },
  async () => {
    assert.ok(nobody);
    const inst = await tempInstall();
    try {
      await writeFile(join(inst.configDir, 'main.cf'), `${inst.mainCf}mail_owner = nobody\n`);
      // Both writers give the file to mail_owner before it gets its name.
      for (const r of [
        await runDirect(inst, 'sendmail', ['b@example.org'], 'x\n', { path: NO_NODE }),
        await runTool(inst, 'sendmail', ['b@example.org'], 'x\n'),
      ]) {
        assert.equal(r.status, 0, r.stderr);
        const [id] = await listMaildrop(inst.queueDir);
        const st = await stat(join(inst.queueDir, 'maildrop', id ?? ''));
        assert.equal(st.uid, nobody.uid);
        assert.equal(st.mode & 0o777, 0o600);
        await unlink(join(inst.queueDir, 'maildrop', id ?? ''));
      }

      // maildrop/ as the stock layout has it: mail_owner's, not writable for others.
      await writeFile(join(inst.configDir, 'main.cf'), inst.mainCf);
      await chmod(inst.dir, 0o755);
      await chmod(inst.configDir, 0o755);
      await chmod(join(inst.queueDir, 'maildrop'), 0o730);
      // Without a pickup socket the front leaves the error to Node (no Node on PATH: the exec fails).
      const noSock = await runDirect(inst, 'sendmail', ['b@example.org'], 'x\n', { path: NO_NODE, as: nobody });
      assert.equal(noSock.status, 71, noSock.stderr);
      const viaNode = await runDirect(inst, 'sendmail', ['b@example.org'], 'x\n', { as: nobody });
      assert.equal(viaNode.status, 75, viaNode.stderr);
      assert.match(
        viaNode.stderr,
        /^sendmail: fatal: unable to create maildrop file: permission denied, and the mail system does not answer on /,
      );

      // A stand-in for the pickup service's socket: one request, answered like drop-socket.ts does.
      const sockDir = join(inst.queueDir, 'public');
      await mkdir(sockDir, { recursive: true });
      const { createServer } = await import('node:net');
      let request = Buffer.alloc(0);
      const server = createServer({ allowHalfOpen: true }, (s) => {
        const parts: Buffer[] = [];
        s.on('data', (d: Buffer) => parts.push(d));
        s.on('end', () => {
          request = Buffer.concat(parts);
          s.end('OK 1234ABCDEF\n');
        });
      });
      await new Promise<void>((res) => server.listen(join(sockDir, 'pickup'), () => res()));
      try {
        await chmod(join(sockDir, 'pickup'), 0o666);
        const u = await runDirect(inst, 'sendmail', ['-f', 'n@example.com', 'b@example.org'], 'S: u\n\nbody\n', {
          path: NO_NODE,
          as: nobody,
        });
        assert.equal(u.status, 0, u.stderr);
        const nl = request.indexOf(0x0a);
        const head = JSON.parse(request.subarray(0, nl).toString()) as {
          envelope: { sender: string; recipients: string[]; uid: number };
          size: number;
        };
        assert.equal(head.envelope.sender, 'n@example.com');
        assert.deepEqual(head.envelope.recipients, ['b@example.org']);
        assert.equal(head.envelope.uid, nobody.uid);
        assert.equal(request.subarray(nl + 1).toString(), 'S: u\r\n\r\nbody\r\n');
        assert.equal(head.size, request.length - nl - 1);
      } finally {
        await new Promise<void>((res) => server.close(() => res()));
      }
      assert.deepEqual(await listMaildrop(inst.queueDir), []);
    } finally {
      await inst.cleanup();
    }
  },
);

test('a writer that disagrees with the format definition is refused by the reader', { skip }, async () => {
  // Build the front with another format version, as a stale binary would be.
  const inst = await tempInstall();
  try {
    const dir = join(inst.dir, 'dist', 'native');
    await mkdir(dir, { recursive: true });
    const out = join(dir, 'postern-sendmail');
    execFileSync(process.env.CC ?? 'cc', [
      '-O2',
      `-I${join(projectRoot, 'dist', 'native')}`,
      '-DPOSTERN_DROP_VERSION=2u',
      '-o',
      out,
      join(projectRoot, 'native', 'postern-sendmail.c'),
      join(projectRoot, 'native', 'sendmail-config.c'),
    ]);
    execFileSync(out, ['b@example.org'], { input: 'x\n', env: { MAIL_CONFIG: inst.configDir, PATH: NO_NODE } });
    const [id] = await listMaildrop(inst.queueDir);
    await assert.rejects(readMaildrop(inst.queueDir, id ?? ''), MaildropError);
    const p = await openPipeline(inst);
    try {
      assert.equal(await p.pickup.scan(), 1);
      assert.deepEqual([...p.store.list()], []);
      assert.deepEqual(await readdir(join(inst.queueDir, 'corrupt')), [id]);
    } finally {
      await p.close();
    }
  } finally {
    await inst.cleanup();
  }
});
