// Address verification end to end through `postfix start`: smtpd with
// reject_unverified_recipient relays for example.net to a recording SMTP
// server that knows alice and refuses bob. The first RCPT for each gets
// "450 4.1.1 ... unverified address: Address verification in progress"
// (address_verify_poll_count = 1); the probes stop after RCPT TO (the server
// never sees DATA from them) and their answers land in the btree: cache; the
// next session gets the cached verdicts (alice accepted and delivered once,
// bob refused with 550 "undeliverable address" and the server's reply); after
// `postfix stop` and `start` the verdict comes from the file without a new
// probe, and postmap -q reads the entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBin } from '../postfix/run-bin.js';
import { e2eSkip, startMailSystem, type E2eSystem } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

/** A minimal SMTP client: sends each command and collects the (last line of the) reply. */
async function dialogue(port: number, commands: readonly string[], timeoutMs = 30_000): Promise<string[]> {
  const sock: Socket = connect(port, '127.0.0.1');
  sock.setEncoding('utf8');
  let buf = '';
  const waiters: (() => void)[] = [];
  sock.on('data', (d: string) => {
    buf += d;
    for (const w of waiters.splice(0)) w();
  });
  sock.on('error', () => undefined);
  const timer = setTimeout(() => sock.destroy(), timeoutMs);
  const reply = async (): Promise<string> => {
    for (;;) {
      const m = /^(\d{3}) (.*)\r\n/m.exec(buf);
      if (m) {
        buf = buf.slice((m.index ?? 0) + m[0].length);
        return `${m[1]} ${m[2]}`;
      }
      if (sock.destroyed) throw new Error(`connection closed; pending: ${buf}`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  try {
    const out: string[] = [await reply()];
    for (const c of commands) {
      sock.write(`${c}\r\n`);
      // A multi-line reply (EHLO) ends with its "code SP" line.
      out.push(await reply());
    }
    return out;
  } finally {
    clearTimeout(timer);
    sock.end();
  }
}

const skip = e2eSkip();

test(
  'reject_unverified_recipient: probes, cached verdicts, no delivery by probes, a cache that survives restart',
  { skip },
  async (t) => {
    const receiver = await RecordingReceiver.start({ rejectRcpt: /^bob@/ });
    const work = await mkdtemp(join(tmpdir(), 'postern-verify-'));
    await chmod(work, 0o755);
    const data = join(work, 'data');
    await mkdir(data);
    await chmod(data, 0o1777); // the core worker runs as nobody when the test runs as root
    const running: { sys?: E2eSystem } = {};
    t.after(async () => {
      await running.sys?.cleanup();
      await receiver.close();
      await rm(work, { recursive: true, force: true });
    });
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination = localhost
relay_domains = example.net
relayhost = [127.0.0.1]:${receiver.port}
smtpd_recipient_restrictions = reject_unauth_destination, reject_unverified_recipient
unverified_recipient_reject_code = 550
address_verify_poll_count = 1
address_verify_map = btree:${data}/verify_cache
`,
    });
    running.sys = sys;
    const rcpt = (to: string): string[] => [
      'EHLO client.example.org',
      'MAIL FROM:<sender@example.org>',
      `RCPT TO:<${to}>`,
      'QUIT',
    ];

    // 1. Nothing known yet: both deferred while the probes go out.
    const first = await dialogue(sys.port, [
      ...rcpt('alice@example.net').slice(0, 3),
      'RCPT TO:<bob@example.net>',
      'QUIT',
    ]);
    const inProgress = (a: string): string =>
      `450 4.1.1 <${a}>: Recipient address rejected: unverified address: Address verification in progress`;
    assert.equal(first[3], inProgress('alice@example.net'));
    assert.equal(first[4], inProgress('bob@example.net'));
    const log1 = await sys.waitForLog(
      /to=<bob@example\.net>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*status=undeliverable/,
    );
    await sys.waitForLog(
      /to=<alice@example\.net>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*dsn=2\.\d\.\d, status=deliverable/,
    );
    assert.match(
      log1,
      /NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 450 4\.1\.1 <alice@example\.net>: Recipient address rejected: unverified address: Address verification in progress; from=<sender@example\.org> to=<alice@example\.net> proto=ESMTP helo=<client\.example\.org>/,
    );
    assert.match(log1, /: from=<double-bounce@mx\.example\.test>, size=\d+, nrcpt=1 \(queue active\)/);

    // 2. The cached verdicts: alice accepted and delivered, bob refused with the server's answer.
    const second = await dialogue(sys.port, [
      'EHLO client.example.org',
      'MAIL FROM:<sender@example.org>',
      'RCPT TO:<alice@example.net>',
      'RCPT TO:<bob@example.net>',
      'DATA',
      'Subject: verified\r\n\r\nhello alice\r\n.',
      'QUIT',
    ]);
    assert.equal(second[3], '250 2.1.5 Ok');
    assert.match(
      second[4] ?? '',
      /^550 5\.1\.1 <bob@example\.net>: Recipient address rejected: undeliverable address: host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1 <bob@example\.net>: Recipient address rejected: no such user/,
    );
    assert.equal(second[5], '354 End data with <CR><LF>.<CR><LF>');
    assert.match(second[6] ?? '', /^250 2\.0\.0 Ok: queued as \w+$/);
    const deadline = Date.now() + 30_000;
    while (receiver.messages.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // Only the real message was transferred: the probes ended after RCPT TO.
    assert.equal(receiver.messages.length, 1);
    assert.deepEqual(receiver.messages[0]?.rcptTo, ['alice@example.net']);
    const probes = receiver.commands.filter((c) => /^MAIL FROM:<double-bounce@mx\.example\.test>/i.test(c));
    assert.equal(probes.length, 2, receiver.commands.join('\n'));
    const bobProbes = (): number => receiver.commands.filter((c) => /^RCPT TO:<bob@example\.net>/i.test(c)).length;
    assert.equal(bobProbes(), 1);

    // 3. Restart: the verdict comes from the file, with no new probe.
    assert.equal((await sys.postfix('stop')).code, 0);
    const started = await sys.postfix('start');
    assert.equal(started.code, 0, started.stderr);
    await sys.waitForLog(/daemon started[^]*daemon started/);
    const third = await dialogue(sys.port, rcpt('bob@example.net'));
    assert.match(
      third[3] ?? '',
      /^550 5\.1\.1 <bob@example\.net>: Recipient address rejected: undeliverable address: host 127\.0\.0\.1/,
    );
    assert.equal(bobProbes(), 1);
    const q = await runBin('postmap', ['-q', 'bob@example.net', `btree:${data}/verify_cache`]);
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /^2:0:\d+:host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 /);
    assert.doesNotMatch(await sys.log(), /postfix\/verify\[\d+\]: warning/);
  },
);

test('smtpd in its own worker process: the verdict arrives within the poll window', { skip }, async (t) => {
  const receiver = await RecordingReceiver.start({ rejectRcpt: /^bob@/ });
  const running: { sys?: E2eSystem } = {};
  t.after(async () => {
    await running.sys?.cleanup();
    await receiver.close();
  });
  const sys = await startMailSystem({
    mainCf: `myhostname = mx.example.test
mydestination = localhost
relay_domains = example.net
relayhost = [127.0.0.1]:${receiver.port}
postern_smtpd_workers = 1
smtpd_recipient_restrictions = reject_unauth_destination, reject_unverified_recipient
address_verify_map =
address_verify_poll_delay = 20s
`,
  });
  running.sys = sys;
  // Default poll count (3): the probes answer while smtpd waits, so the first RCPT already gets the verdict.
  const r = await dialogue(sys.port, [
    'EHLO client.example.org',
    'MAIL FROM:<sender@example.org>',
    'RCPT TO:<bob@example.net>',
    'RCPT TO:<alice@example.net>',
    'QUIT',
  ]);
  assert.match(
    r[3] ?? '',
    /^450 4\.1\.1 <bob@example\.net>: Recipient address rejected: unverified address: host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1 /,
  );
  assert.equal(r[4], '250 2.1.5 Ok');
  assert.equal(receiver.messages.length, 0);
});
