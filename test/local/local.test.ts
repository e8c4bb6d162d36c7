// local(8) end to end as root: real users, real files, the real helper.
// Mailboxes and maildirs must end up owned by the recipient; aliases reach
// users, files, commands and :include: lists with the right privileges;
// .forward chains work; attacks through symbolic and hard links, and
// deliveries to files where the privileges do not allow it, write nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, link, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createLocalAgent, type LocalAgentOptions } from '../../src/daemons/local/local.js';
import type { CleanupService, EnvelopeRecipient } from '../../src/global/queue/cleanup-api.js';
import { main as postalias } from '../../src/commands/postalias/main.js';
import { ensureUser, openDir, request, MESSAGE, skipReason } from './harness.js';

const skip = skipReason();
const HOST = 'mx.example.com';

interface Setup {
  readonly dir: string;
  readonly spool: string;
  readonly out: string;
  agent(extra?: string, opts?: Partial<LocalAgentOptions>): ReturnType<typeof createLocalAgent>;
}

/** A spool like Debian's /var/mail (root:mail 2775), a 1777 drop directory, aliases in texthash form. */
async function setup(t: Parameters<typeof openDir>[0], aliases = ''): Promise<Setup> {
  const dir = await openDir(t, 'local');
  const spool = `${dir}/spool`;
  const out = `${dir}/out`;
  await mkdir(spool);
  await chown(spool, 0, 8);
  await chmod(spool, 0o2775);
  await mkdir(out);
  await chmod(out, 0o1777);
  await mkdir(`${dir}/fwd`);
  await writeFile(`${dir}/aliases`, aliases);
  return {
    dir,
    spool,
    out,
    agent: (extra = '', opts = {}) =>
      createLocalAgent({
        config: Config.fromText(
          `myhostname = ${HOST}\nmydestination = ${HOST}, localhost\nmyorigin = ${HOST}\n` +
            `mail_spool_directory = ${spool}\nalias_maps = texthash:${dir}/aliases\n` +
            `forward_path = ${dir}/fwd/$user.forward\ndeliver_lock_delay = 0s\n${extra}`,
        ),
        logger: new MemoryLogger('postfix/local'),
        ...opts,
      }),
  };
}

test(
  'mbox delivery: From_ line, Return-Path/Delivered-To, >From quoting, owned by the recipient',
  { skip },
  async (t) => {
    const u = ensureUser('pstlocal1');
    const s = await setup(t);
    const [o] = await s
      .agent()
      .deliver(
        request({ recipients: [`pstlocal1@${HOST}`], original: ['PstLocal1@mx.example.com'], content: MESSAGE }),
      );
    assert.deepEqual(o, { index: 0, status: 'sent', dsn: '2.0.0', relay: 'local', reason: 'delivered to mailbox' });
    const box = `${s.spool}/pstlocal1`;
    const st = await stat(box);
    assert.equal(st.uid, u.uid);
    assert.equal(st.mode & 0o777, 0o600);
    const text = await readFile(box, 'utf8');
    assert.match(text, /^From sender@example\.org {2}\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d 2026\n/);
    assert.ok(
      text.includes(
        '\nReturn-Path: <sender@example.org>\nX-Original-To: PstLocal1@mx.example.com\nDelivered-To: pstlocal1@mx.example.com\nFrom: a@example.org\n',
      ),
    );
    assert.ok(text.includes('\nline one\n>From the start\n.dot line\n\n'), 'body quoted, blank line appended');
    assert.ok(!text.includes('\r'), 'LF line ends in the mailbox');
    // a second message is appended, not written over
    await s.agent().deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
    assert.equal((await readFile(box, 'utf8')).match(/^From sender/gm)?.length, 2);
    assert.ok(!existsSync(`${box}.lock`), 'dotlock removed');
  },
);

test('home_mailbox Maildir/: new/ file owned by the recipient, tmp/ left empty', { skip }, async (t) => {
  const u = ensureUser('pstlocal2');
  const s = await setup(t);
  const maildir = `Maildir-test-${process.pid}/`;
  t.after(() => import('node:fs/promises').then((f) => f.rm(`${u.home}/${maildir}`, { recursive: true, force: true })));
  const [o] = await s
    .agent(`home_mailbox = ${maildir}\n`)
    .deliver(request({ recipients: [`pstlocal2@${HOST}`], content: MESSAGE }));
  assert.equal(o?.status, 'sent');
  assert.equal(o?.reason, 'delivered to maildir');
  const files = await readdir(`${u.home}/${maildir}new`);
  assert.equal(files.length, 1);
  assert.deepEqual(await readdir(`${u.home}/${maildir}tmp`), []);
  const file = `${u.home}/${maildir}new/${files[0] ?? ''}`;
  assert.equal((await stat(file)).uid, u.uid);
  assert.equal((await stat(`${u.home}/${maildir}`)).uid, u.uid);
  const text = await readFile(file, 'utf8');
  assert.ok(text.startsWith('Return-Path: <sender@example.org>\n'), 'no From_ line in a maildir file');
  assert.ok(text.includes('\nFrom the start\n'), 'no >From quoting in a maildir file');
});

test('unknown user bounces with 5.1.1; luser_relay catches it', { skip }, async (t) => {
  const s = await setup(t);
  const [o] = await s.agent().deliver(request({ recipients: [`nosuchuser-xyz@${HOST}`], content: MESSAGE }));
  assert.equal(o?.status, 'bounced');
  assert.equal(o?.dsn, '5.1.1');
  assert.equal(o?.reason, 'unknown user: "nosuchuser-xyz"');
  ensureUser('pstlocal1');
  const [r] = await s
    .agent('luser_relay = pstlocal1\n')
    .deliver(request({ recipients: [`nosuchuser-xyz@${HOST}`], content: MESSAGE }));
  assert.equal(r?.status, 'sent');
  assert.match(await readFile(`${s.spool}/pstlocal1`, 'utf8'), /Delivered-To: pstlocal1@mx\.example\.com/);
});

test('Delivered-To: naming the recipient already is a mail forwarding loop', { skip }, async (t) => {
  ensureUser('pstlocal1');
  const s = await setup(t);
  const looped = `Delivered-To: PSTLOCAL1@${HOST}\n${MESSAGE}`;
  const [o] = await s.agent().deliver(request({ recipients: [`pstlocal1@${HOST}`], content: looped }));
  assert.equal(o?.status, 'bounced');
  assert.equal(o?.dsn, '5.4.6');
  assert.equal(o?.reason, `mail forwarding loop for pstlocal1@${HOST}`);
  assert.ok(!existsSync(`${s.spool}/pstlocal1`));
});

test('aliases: user list, file (as default_privs), command (as default_privs), :include:', { skip }, async (t) => {
  ensureUser('pstlocal1');
  const u2 = ensureUser('pstlocal2');
  const nobody = ensureUser('nobody');
  const s = await setup(t);
  await writeFile(`${s.dir}/list`, `pstlocal2\n# comment\n${s.out}/from-include\n`);
  await writeFile(
    `${s.dir}/aliases`,
    [
      `team pstlocal1, pstlocal2`,
      `tofile ${s.out}/archive`,
      `tocmd "|id -u > ${s.out}/cmd.uid; cat > ${s.out}/cmd.msg"`,
      `inc :include:${s.dir}/list`,
      `postmaster pstlocal1`,
    ].join('\n'),
  );
  const agent = s.agent();
  const [team] = await agent.deliver(request({ recipients: [`team@${HOST}`], content: MESSAGE }));
  assert.equal(team?.status, 'sent');
  assert.match(
    await readFile(`${s.spool}/pstlocal1`, 'utf8'),
    /X-Original-To: team@mx\.example\.com\nDelivered-To: pstlocal1@mx\.example\.com/,
  );
  assert.match(await readFile(`${s.spool}/pstlocal2`, 'utf8'), /Delivered-To: pstlocal2@mx\.example\.com/);

  const [file] = await agent.deliver(request({ recipients: [`tofile@${HOST}`], content: MESSAGE }));
  assert.deepEqual([file?.status, file?.reason], ['sent', `delivered to file: ${s.out}/archive`]);
  assert.equal(
    (await stat(`${s.out}/archive`)).uid,
    nobody.uid,
    'root-owned alias table: file written as default_privs',
  );
  assert.match(await readFile(`${s.out}/archive`, 'utf8'), /^From sender@example\.org /);

  const [cmd] = await agent.deliver(request({ recipients: [`tocmd@${HOST}`], content: MESSAGE }));
  assert.equal(cmd?.status, 'sent');
  assert.match(cmd?.reason ?? '', /^delivered to command: id -u/);
  assert.equal((await readFile(`${s.out}/cmd.uid`, 'utf8')).trim(), String(nobody.uid));
  assert.match(
    await readFile(`${s.out}/cmd.msg`, 'utf8'),
    /^From sender@example\.org .*\nReturn-Path: <sender@example\.org>\n/,
  );

  // allow_mail_to_files does not list `include` by default: the user gets it, the file does not
  const [inc] = await agent.deliver(request({ recipients: [`inc@${HOST}`], content: MESSAGE }));
  assert.deepEqual([inc?.status, inc?.dsn, inc?.reason], ['bounced', '5.7.1', 'mail to file is restricted']);
  assert.equal((await readFile(`${s.spool}/pstlocal2`, 'utf8')).match(/^From sender/gm)?.length, 2);
  assert.ok(!existsSync(`${s.out}/from-include`));
  const [inc2] = await s
    .agent('allow_mail_to_files = alias, forward, include\n')
    .deliver(request({ recipients: [`inc@${HOST}`], content: MESSAGE }));
  assert.equal(inc2?.status, 'sent');
  assert.equal((await stat(`${s.out}/from-include`)).uid, nobody.uid);
  assert.notEqual((await stat(`${s.spool}/pstlocal2`)).uid, 0);
  assert.equal((await stat(`${s.spool}/pstlocal2`)).uid, u2.uid);
});

test('hash: aliases built by postalias; a command that fails bounces or defers per sysexits', { skip }, async (t) => {
  ensureUser('pstlocal1');
  const s = await setup(t);
  await writeFile(
    `${s.dir}/aliases.src`,
    `fail67: "|exit 67"\nfail75: "|echo busy; exit 75"\nboth: pstlocal1, pstlocal1\n`,
  );
  const io = { stdout: () => undefined, stderr: () => undefined, stdin: () => Promise.resolve('') };
  assert.equal(await postalias([`hash:${s.dir}/aliases.src`], 'postalias', io), 0);
  const agent = s.agent(`alias_maps = hash:${s.dir}/aliases.src\n`);
  const [a, b] = await agent.deliver(request({ recipients: [`fail67@${HOST}`, `fail75@${HOST}`], content: MESSAGE }));
  assert.deepEqual([a?.status, a?.dsn, a?.reason], ['bounced', '5.1.1', 'Command died with status 67: "exit 67"']);
  assert.deepEqual(
    [b?.status, b?.dsn, b?.reason],
    ['deferred', '4.3.0', 'Command died with status 75: "echo busy; exit 75". Command output: busy'],
  );
  // duplicate elimination: one copy for a name listed twice
  const [c] = await agent.deliver(request({ recipients: [`both@${HOST}`], content: MESSAGE }));
  assert.equal(c?.status, 'sent');
  assert.equal((await readFile(`${s.spool}/pstlocal1`, 'utf8')).match(/^From sender/gm)?.length, 1);
});

test('.forward: chain to another user, \\self keeps a copy, commands run as the user', { skip }, async (t) => {
  const u1 = ensureUser('pstlocal1');
  ensureUser('pstlocal2');
  const s = await setup(t);
  const fwd = `${s.dir}/fwd/pstlocal1.forward`;
  await writeFile(fwd, `pstlocal2, \\pstlocal1\n"|id -u > ${s.out}/fwd.uid"\n`);
  await chown(fwd, u1.uid, u1.gid);
  const [o] = await s.agent().deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
  assert.equal(o?.status, 'sent');
  assert.ok(existsSync(`${s.spool}/pstlocal1`), 'self copy');
  assert.ok(existsSync(`${s.spool}/pstlocal2`), 'forwarded copy');
  assert.equal((await readFile(`${s.out}/fwd.uid`, 'utf8')).trim(), String(u1.uid));
});

test(
  '.forward owned by someone else is ignored; mail to files from .forward can be restricted',
  { skip },
  async (t) => {
    const u1 = ensureUser('pstlocal1');
    const u2 = ensureUser('pstlocal2');
    const s = await setup(t);
    const fwd = `${s.dir}/fwd/pstlocal1.forward`;
    await writeFile(fwd, `pstlocal2\n`);
    await chown(fwd, u2.uid, u2.gid);
    const [o] = await s.agent().deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
    assert.equal(o?.status, 'sent');
    assert.ok(existsSync(`${s.spool}/pstlocal1`));
    assert.ok(!existsSync(`${s.spool}/pstlocal2`));

    await writeFile(fwd, `${s.out}/not-allowed\n`);
    await chown(fwd, u1.uid, u1.gid);
    const [r] = await s
      .agent('allow_mail_to_files = alias\n')
      .deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
    assert.deepEqual([r?.status, r?.dsn, r?.reason], ['bounced', '5.7.1', 'mail to file is restricted']);
    assert.ok(!existsSync(`${s.out}/not-allowed`));
  },
);

test('symbolic link and hard link planted as the mailbox: deferred, the target untouched', { skip }, async (t) => {
  ensureUser('pstlocal1');
  ensureUser('pstlocal2');
  const s = await setup(t);
  const victim = `${s.dir}/victim`;
  await writeFile(victim, 'precious\n');
  await chmod(victim, 0o666);
  await symlink(victim, `${s.spool}/pstlocal1`);
  const [a] = await s.agent().deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
  assert.equal(a?.status, 'deferred');
  assert.match(a?.reason ?? '', /symbolic link/);
  await link(victim, `${s.spool}/pstlocal2`);
  const [b] = await s.agent().deliver(request({ recipients: [`pstlocal2@${HOST}`], content: MESSAGE }));
  assert.equal(b?.status, 'deferred');
  assert.match(b?.reason ?? '', /hard links|wrong owner/);
  assert.equal(await readFile(victim, 'utf8'), 'precious\n');
});

test("maildir with new/ pointing into another user's maildir writes nothing there", { skip }, async (t) => {
  const u1 = ensureUser('pstlocal1');
  const u3 = ensureUser('pstlocal3');
  const s = await setup(t);
  const victimNew = `${s.dir}/victim-maildir/new`;
  await mkdir(victimNew, { recursive: true });
  await chown(`${s.dir}/victim-maildir`, u3.uid, u3.gid);
  await chown(victimNew, u3.uid, u3.gid);
  await chmod(victimNew, 0o700);
  const md = `${u1.home}/Maildir-attack-${process.pid}`;
  t.after(() => import('node:fs/promises').then((f) => f.rm(md, { recursive: true, force: true })));
  await mkdir(`${md}/tmp`, { recursive: true });
  await mkdir(`${md}/cur`);
  await symlink(victimNew, `${md}/new`);
  for (const p of [md, `${md}/tmp`, `${md}/cur`]) await chown(p, u1.uid, u1.gid);
  const [o] = await s
    .agent(`home_mailbox = Maildir-attack-${process.pid}/\n`)
    .deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
  assert.equal(o?.status, 'deferred');
  assert.deepEqual(await readdir(victimNew), []);
});

test('alias to a file default_privs may not write: deferred, nothing written', { skip }, async (t) => {
  const s = await setup(t);
  const rootOnly = `${s.dir}/rootonly`;
  await mkdir(rootOnly, { mode: 0o700 });
  await writeFile(`${s.dir}/aliases`, `evil ${rootOnly}/owned\nevil2 /etc/postern-should-not-exist\n`);
  const [a, b] = await s.agent().deliver(request({ recipients: [`evil@${HOST}`, `evil2@${HOST}`], content: MESSAGE }));
  assert.equal(a?.status, 'deferred');
  assert.equal(b?.status, 'deferred');
  assert.ok(!existsSync(`${rootOnly}/owned`));
  assert.ok(!existsSync('/etc/postern-should-not-exist'));
});

test('mailbox_size_limit: over the limit bounces 5.2.2 and leaves the mailbox as it was', { skip }, async (t) => {
  ensureUser('pstlocal1');
  const s = await setup(t);
  const agent = s.agent('mailbox_size_limit = 600\nmessage_size_limit = 500\n');
  const [a] = await agent.deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
  assert.equal(a?.status, 'sent');
  const before = await readFile(`${s.spool}/pstlocal1`);
  const big = `${MESSAGE}${'x'.repeat(60)}\n`.repeat(3);
  const [b] = await agent.deliver(request({ recipients: [`pstlocal1@${HOST}`], content: big }));
  assert.equal(b?.status, 'bounced');
  assert.equal(b?.dsn, '5.2.2');
  assert.match(
    b?.reason ?? '',
    /^cannot update mailbox .* for user pstlocal1\. error writing message: File too large$/,
  );
  assert.deepEqual(await readFile(`${s.spool}/pstlocal1`), before);
});

test('aliases to remote addresses are forwarded through cleanup with Delivered-To:', { skip }, async (t) => {
  const s = await setup(t, `ext remote@example.net, other@example.net\n`);
  const got: { sender: string; rcpts: EnvelopeRecipient[]; data: Buffer[] } = { sender: '', rcpts: [], data: [] };
  const cleanup: CleanupService = {
    open: (req) => {
      got.sender = req.sender;
      return Promise.resolve({
        queueId: 'FWD123',
        addRecipient: (r) => void got.rcpts.push(r),
        write: (b) => void got.data.push(b),
        commit: () => Promise.resolve({ status: 'queued' as const, queueId: 'FWD123' }),
        abort: () => Promise.resolve(),
      });
    },
  };
  const [o] = await s.agent('', { cleanup }).deliver(request({ recipients: [`ext@${HOST}`], content: MESSAGE }));
  assert.deepEqual([o?.status, o?.reason], ['sent', 'forwarded as FWD123']);
  assert.equal(got.sender, 'sender@example.org');
  assert.deepEqual(
    got.rcpts.map((r) => r.address),
    ['remote@example.net', 'other@example.net'],
  );
  assert.ok(Buffer.concat(got.data).toString().startsWith(`Delivered-To: ext@${HOST}\r\nFrom: a@example.org\r\n`));
});

test('mailbox_command runs as the recipient with the delivery environment', { skip }, async (t) => {
  const u = ensureUser('pstlocal1');
  const s = await setup(t);
  const [o] = await s
    .agent(`mailbox_command = /bin/sh -c 'echo "$(id -u) $USER $RECIPIENT $SENDER" > ${s.out}/mc'\n`)
    .deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
  assert.equal(o?.status, 'sent');
  assert.equal(
    (await readFile(`${s.out}/mc`, 'utf8')).trim(),
    `${u.uid} pstlocal1 pstlocal1@${HOST} sender@example.org`,
  );
});

test('concurrent deliveries to one mbox are serialised by the locks; a held dotlock defers', { skip }, async (t) => {
  ensureUser('pstlocal1');
  const s = await setup(t);
  const agent = s.agent('deliver_lock_attempts = 200\n');
  const bodies = Array.from({ length: 8 }, (_v, i) => `${MESSAGE}${`message ${i} `.repeat(2000)}\n`);
  const out = await Promise.all(
    bodies.map((content) => agent.deliver(request({ recipients: [`pstlocal1@${HOST}`], content }))),
  );
  assert.deepEqual(
    out.map((o) => o[0]?.status),
    Array(8).fill('sent'),
  );
  const text = await readFile(`${s.spool}/pstlocal1`, 'utf8');
  const msgs = text.split(/^From sender@example\.org {2}.*\n/m).slice(1);
  assert.equal(msgs.length, 8);
  for (const m of msgs) {
    const n = /message (\d) /.exec(m)?.[1];
    assert.ok(n !== undefined);
    assert.equal(m.split(`message ${n} `).length - 1, 2000, 'no interleaving');
  }
  await writeFile(`${s.spool}/pstlocal1.lock`, '');
  const [held] = await s
    .agent('deliver_lock_attempts = 2\n')
    .deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
  assert.equal(held?.status, 'deferred');
  assert.match(held?.reason ?? '', /unable to lock .*lock file .*pstlocal1\.lock exists/);
});

test('mailbox_transport and fallback_transport hand the recipient to another transport', { skip }, async (t) => {
  ensureUser('pstlocal1');
  const s = await setup(t);
  const calls: string[] = [];
  const pass: LocalAgentOptions['pass'] = (transport, nexthop, _req, rcpt) => {
    calls.push(`${transport} ${nexthop} ${rcpt.address}`);
    return Promise.resolve({
      index: rcpt.index,
      status: 'sent',
      dsn: '2.0.0',
      relay: transport,
      reason: 'delivered via lmtp',
    });
  };
  const agent = s.agent(
    'mailbox_transport = lmtp:unix:private/dovecot-lmtp\nfallback_transport = relay:[mx.example.net]\n',
    { pass },
  );
  const out = await agent.deliver(
    request({ recipients: [`pstlocal1@${HOST}`, `nosuch-xyz@${HOST}`], content: MESSAGE }),
  );
  assert.deepEqual(
    out.map((o) => o.status),
    ['sent', 'sent'],
  );
  assert.deepEqual(calls, [
    `lmtp unix:private/dovecot-lmtp pstlocal1@${HOST}`,
    `relay [mx.example.net] nosuch-xyz@${HOST}`,
  ]);
  assert.ok(!existsSync(`${s.spool}/pstlocal1`));
});

test(
  'an fcntl lock held by another program (python3 lockf) defers the delivery',
  { skip: skip ?? (existsSync('/usr/bin/python3') ? undefined : 'no python3') },
  async (t) => {
    const u = ensureUser('pstlocal1');
    const s = await setup(t);
    const box = `${s.spool}/pstlocal1`;
    await writeFile(box, '');
    await chown(box, u.uid, 8);
    await chmod(box, 0o600);
    const { spawn } = await import('node:child_process');
    const holder = spawn(
      'python3',
      [
        '-c',
        `import fcntl,sys,time\nf=open(${JSON.stringify(box)},'a')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(20)`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.after(() => void holder.kill('SIGKILL'));
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const [o] = await s
      .agent('mailbox_delivery_lock = fcntl\ndeliver_lock_attempts = 3\n')
      .deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
    assert.equal(o?.status, 'deferred');
    assert.match(o?.reason ?? '', /unable to lock/);
    assert.equal((await readFile(box)).length, 0);
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    const [r] = await s
      .agent('mailbox_delivery_lock = fcntl\n')
      .deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
    assert.equal(r?.status, 'sent');
  },
);

test(
  'one request: a user reached twice (directly and through an alias) gets one copy, both recipients succeed',
  { skip },
  async (t) => {
    ensureUser('pstlocal1');
    ensureUser('pstlocal2');
    const s = await setup(t, `team pstlocal1, pstlocal2\n`);
    const out = await s
      .agent()
      .deliver(request({ recipients: [`team@${HOST}`, `pstlocal1@${HOST}`], content: MESSAGE }));
    assert.deepEqual(
      out.map((o) => [o.index, o.status]),
      [
        [0, 'sent'],
        [1, 'sent'],
      ],
    );
    assert.equal((await readFile(`${s.spool}/pstlocal1`, 'utf8')).match(/^From sender/gm)?.length, 1);
    assert.equal((await readFile(`${s.spool}/pstlocal2`, 'utf8')).match(/^From sender/gm)?.length, 1);
  },
);

test(
  'alias cycles bounce as forwarding loops; joe: \\joe style self-reference delivers; owner- alias becomes the sender',
  { skip },
  async (t) => {
    ensureUser('pstlocal1');
    const s = await setup(
      t,
      `loopa loopb\nloopb loopa\npstlocal1 pstlocal1, archive-nowhere@example.net\nlist pstlocal1\nowner-list pstlocal2\n`,
    );
    const [loop] = await s.agent().deliver(request({ recipients: [`loopa@${HOST}`], content: MESSAGE }));
    assert.deepEqual(
      [loop?.status, loop?.dsn, loop?.reason],
      ['bounced', '5.4.6', `mail forwarding loop for loopa@${HOST}`],
    );
    const fwd: string[] = [];
    const cleanup: CleanupService = {
      open: () =>
        Promise.resolve({
          queueId: 'Q1',
          addRecipient: (r) => void fwd.push(r.address),
          write: () => undefined,
          commit: () => Promise.resolve({ status: 'queued' as const, queueId: 'Q1' }),
          abort: () => Promise.resolve(),
        }),
    };
    const [self] = await s
      .agent('', { cleanup })
      .deliver(request({ recipients: [`pstlocal1@${HOST}`], content: MESSAGE }));
    assert.equal(self?.status, 'sent', self?.reason);
    assert.deepEqual(fwd, ['archive-nowhere@example.net']);
    assert.equal((await readFile(`${s.spool}/pstlocal1`, 'utf8')).match(/^From sender/gm)?.length, 1);
    const [list] = await s.agent('', { cleanup }).deliver(request({ recipients: [`list@${HOST}`], content: MESSAGE }));
    assert.equal(list?.status, 'sent', list?.reason);
    const box = await readFile(`${s.spool}/pstlocal1`, 'utf8');
    assert.match(box, new RegExp(`^From owner-list@${HOST.replace(/\./g, '\\.')} `, 'm'));
    assert.ok(box.includes(`Return-Path: <owner-list@${HOST}>`));
  },
);
