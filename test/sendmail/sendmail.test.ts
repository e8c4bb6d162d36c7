// sendmail(1) end to end: the real bin/sendmail and real user agents (s-nail,
// bsd-mailx) submit with the mail system down; the message lands in maildrop/
// and pickup moves it through cleanup into the queue intact. Also: the lone
// dot rule, -t, sysexits codes, authorized_submit_users, -bs, and a bounded
// loop of 300 `sendmail -t` runs that must lose nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listMaildrop, readMaildrop } from '../../src/global/queue/maildrop.js';
import { readAll } from '../queue/helpers.js';
import { binDir, openPipeline, runTool, tempInstall } from './tools-harness.js';

test('sendmail drops a message into maildrop; pickup queues it with cleanup headers', async () => {
  const inst = await tempInstall();
  try {
    const r = await runTool(
      inst,
      'sendmail',
      ['-f', 'alice@example.com', '-F', 'Alice Example', 'bob@example.org, carol@example.org'],
      'Subject: hello\n\nfirst line\n..two dots stay\n.\nafter the dot\n',
    );
    assert.equal(r.status, 0, r.stderr);
    const ids = await listMaildrop(inst.queueDir);
    assert.equal(ids.length, 1);
    const drop = await readMaildrop(inst.queueDir, ids[0] ?? '');
    assert.equal(drop.envelope.sender, 'alice@example.com');
    assert.deepEqual(drop.envelope.recipients, ['bob@example.org', 'carol@example.org']);
    assert.equal(drop.envelope.fullName, 'Alice Example');
    // The lone dot ended the message; other lines are kept as they were, in CRLF form.
    assert.equal(drop.content.toString(), 'Subject: hello\r\n\r\nfirst line\r\n..two dots stay\r\n');

    const p = await openPipeline(inst);
    try {
      assert.equal(await p.pickup.scan(), 1);
      assert.deepEqual(await listMaildrop(inst.queueDir), []);
      const msgs = [...p.store.list()];
      assert.equal(msgs.length, 1);
      const m = msgs[0];
      assert.ok(m);
      assert.equal(m.sender, 'alice@example.com');
      assert.deepEqual(
        m.recipients.map((x) => x.address),
        ['bob@example.org', 'carol@example.org'],
      );
      const text = (await readAll(p.store.openContent(m.queueId))).toString();
      assert.match(text, /^From: Alice Example <alice@example\.com>\r$/m);
      assert.match(text, /^Message-Id: </im);
      assert.match(text, /\r\n\r\nfirst line\r\n\.\.two dots stay\r\n$/);
      assert.ok(
        p.log.texts().some((l) => l.startsWith(`${m.queueId}: uid=`) && l.endsWith('from=<alice@example.com>')),
      );
    } finally {
      await p.close();
    }
  } finally {
    await inst.cleanup();
  }
});

test('-i keeps a lone dot line; without recipients or -t the exit status is EX_USAGE', async () => {
  const inst = await tempInstall();
  try {
    assert.equal((await runTool(inst, 'sendmail', ['-oi', 'bob@example.org'], 'a\n.\nb\n')).status, 0);
    const [id] = await listMaildrop(inst.queueDir);
    assert.equal((await readMaildrop(inst.queueDir, id ?? '')).content.toString(), 'a\r\n.\r\nb\r\n');
    const r = await runTool(inst, 'sendmail', [], 'x\n');
    assert.equal(r.status, 64);
    assert.equal(
      r.stderr,
      'sendmail: fatal: Recipient addresses must be specified on the command line or via the -t option\n',
    );
    assert.equal((await runTool(inst, 'sendmail', ['-bz'], '')).status, 64);
  } finally {
    await inst.cleanup();
  }
});

test('authorized_submit_users refuses with EX_NOPERM; message_size_limit with EX_DATAERR', async () => {
  const inst = await tempInstall('authorized_submit_users = !root, static:anyone\nmessage_size_limit = 100\n');
  try {
    const big = `Subject: x\n\n${'y'.repeat(200)}\n`;
    const r = await runTool(inst, 'sendmail', ['bob@example.org'], big);
    if (process.getuid?.() === 0) {
      assert.equal(r.status, 77);
      assert.match(r.stderr, /^sendmail: fatal: User root\(0\) is not allowed to submit mail\n$/);
    } else {
      assert.equal(r.status, 65);
      assert.match(r.stderr, /message file too big/);
    }
    assert.deepEqual(await listMaildrop(inst.queueDir), []);
  } finally {
    await inst.cleanup();
  }
});

test('sendmail -t: recipients come from the headers when pickup hands the message to cleanup', async () => {
  const inst = await tempInstall();
  try {
    const r = await runTool(
      inst,
      'sendmail',
      ['-t'],
      'To: Bob <bob@example.org>\nCc: carol@example.org\nBcc: dave@example.org\nSubject: t\n\nhi\n',
    );
    assert.equal(r.status, 0, r.stderr);
    const p = await openPipeline(inst);
    try {
      await p.pickup.scan();
      const [m] = [...p.store.list()];
      assert.ok(m);
      assert.deepEqual(m.recipients.map((x) => x.address).sort(), [
        'bob@example.org',
        'carol@example.org',
        'dave@example.org',
      ]);
      const text = (await readAll(p.store.openContent(m.queueId))).toString();
      assert.doesNotMatch(text, /^Bcc:/im);
    } finally {
      await p.close();
    }
  } finally {
    await inst.cleanup();
  }
});

test('a bounded loop of 300 sendmail -t runs loses no message', async () => {
  const inst = await tempInstall();
  const total = 300;
  try {
    let next = 0;
    const failures: string[] = [];
    const worker = async (): Promise<void> => {
      while (next < total) {
        const n = next++;
        const r = await runTool(
          inst,
          'sendmail',
          ['-t', '-i'],
          `To: user${n}@example.org\nSubject: loop ${n}\n\nbody ${n}\n`,
        );
        if (r.status !== 0) failures.push(`${n}: ${r.status} ${r.stderr}`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    assert.deepEqual(failures, []);
    assert.equal((await listMaildrop(inst.queueDir)).length, total);
    const p = await openPipeline(inst);
    try {
      for (let i = 0; i < 10 && (await listMaildrop(inst.queueDir)).length > 0; i++) await p.pickup.scan();
      const seen = new Set<string>();
      for (const m of p.store.list()) {
        assert.equal(m.recipients.length, 1);
        const rcpt = m.recipients[0]?.address ?? '';
        const n = /^user(\d+)@example\.org$/.exec(rcpt)?.[1];
        assert.ok(n !== undefined, rcpt);
        const text = (await readAll(p.store.openContent(m.queueId))).toString();
        assert.match(text, new RegExp(`^Subject: loop ${n}\\r$`, 'm'));
        assert.match(text, new RegExp(`\\r\\n\\r\\nbody ${n}\\r\\n$`));
        seen.add(n);
      }
      assert.equal(seen.size, total);
    } finally {
      await p.close();
    }
  } finally {
    await inst.cleanup();
  }
});

test('sendmail -bs speaks SMTP on stdin/stdout and drops each message', async () => {
  const inst = await tempInstall();
  try {
    const dialogue = [
      'EHLO client.example',
      'FROB',
      'MAIL FROM:<alice@example.com>',
      'DATA',
      'RCPT TO:<bob@example.org>',
      'DATA',
      'Subject: over stdio',
      '',
      '..leading dot',
      '.',
      'QUIT',
      '',
    ].join('\r\n');
    const r = await runTool(inst, 'sendmail', ['-bs'], dialogue);
    assert.equal(r.status, 0, r.stderr);
    const replies = r.stdout.split('\r\n');
    assert.match(replies[0] ?? '', /^220 mx\.example\.net ESMTP Postern$/);
    assert.ok(replies.includes('250-mx.example.net'));
    assert.ok(replies.includes('250 2.1.0 Ok'));
    assert.ok(replies.includes('503 5.5.1 Error: need RCPT command'));
    // as Postfix 3.7's smtpd answers an unknown command
    assert.ok(replies.includes('500 5.5.2 Error: command not recognized'), r.stdout);
    assert.ok(replies.includes('354 End data with <CR><LF>.<CR><LF>'));
    const queued = replies.find((l) => l.startsWith('250 2.0.0 Ok: queued as '));
    assert.ok(queued, r.stdout);
    assert.ok(replies.includes('221 2.0.0 Bye'));
    const id = queued.slice('250 2.0.0 Ok: queued as '.length);
    const drop = await readMaildrop(inst.queueDir, id);
    assert.equal(drop.envelope.sender, 'alice@example.com');
    assert.equal(drop.content.toString(), 'Subject: over stdio\r\n\r\n.leading dot\r\n');
  } finally {
    await inst.cleanup();
  }
});

for (const agent of ['s-nail', 'bsd-mailx']) {
  const path = `/usr/bin/${agent}`;
  test(
    `${agent} submits through Postern's sendmail`,
    { skip: existsSync(path) ? false : `${path} is not installed (.ci/setup.d/50-tools.sh installs it)` },
    async () => {
      const inst = await tempInstall();
      try {
        const sendmail = join(binDir, 'sendmail');
        // bsd-mailx reads $HOME/.mailrc; s-nail is told with -S mta= (-:/ skips system files).
        const rc = join(inst.dir, '.mailrc');
        await writeFile(rc, `set sendmail=${sendmail}\n`);
        const args =
          agent === 's-nail'
            ? ['-:/', '-S', `mta=${sendmail}`, '-s', `via ${agent}`, 'bob@example.org']
            : ['-s', `via ${agent}`, 'bob@example.org'];
        execFileSync(path, args, {
          input: `hello from ${agent}\n`,
          env: {
            ...process.env,
            MAIL_CONFIG: inst.configDir,
            PATH: `${binDir}:${process.env.PATH ?? ''}`,
            HOME: inst.dir,
          },
          timeout: 30_000,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        const ids = await listMaildrop(inst.queueDir);
        assert.equal(ids.length, 1);
        const drop = await readMaildrop(inst.queueDir, ids[0] ?? '');
        // s-nail names the recipient; bsd-mailx runs `sendmail -i -t` and leaves it to the To: header.
        const text = drop.content.toString();
        if (drop.envelope.extractRecipients === true) assert.match(text, /^To: bob@example\.org\r$/m);
        else assert.deepEqual(drop.envelope.recipients, ['bob@example.org']);
        assert.match(text, new RegExp(`^Subject: via ${agent}\\r$`, 'm'));
        assert.match(text, new RegExp(`hello from ${agent}\\r\\n$`));
      } finally {
        await inst.cleanup();
      }
    },
  );
}

test('DSN options -N, -R, -V and -B reach the queued message through pickup', async () => {
  const inst = await tempInstall();
  try {
    const r = await runTool(
      inst,
      'sendmail',
      ['-N', 'success,delay', '-R', 'hdrs', '-V', 'env-42', '-B', '8BITMIME', 'bob@example.org'],
      'Subject: dsn\n\nx\n',
    );
    assert.equal(r.status, 0, r.stderr);
    const p = await openPipeline(inst);
    try {
      await p.pickup.scan();
      const [m] = [...p.store.list()];
      assert.ok(m);
      assert.equal(m.ret, 'HDRS');
      assert.equal(m.envid, 'env-42');
      assert.equal(m.body, '8BITMIME');
      assert.deepEqual(m.recipients[0]?.notify, ['SUCCESS', 'DELAY']);
    } finally {
      await p.close();
    }
  } finally {
    await inst.cleanup();
  }
});
