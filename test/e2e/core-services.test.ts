// The core services wired together in one process, as the core worker runs
// them from master.cf: a message handed to the cleanup service found in the
// directory is queued, scheduled by qmgr, resolved by trivial-rewrite and
// delivered by the smtp transport to a real receiver; a 5xx comes back as a
// bounce through bounce and cleanup; a transport without a master.cf entry
// defers. No mocks: real queue files, real sockets, the real mail log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { parseMasterCf } from '../../src/global/mastercf/parse.js';
import { Config } from '../../src/global/params/config.js';
import { CLEANUP_SERVICE, QUEUE_STORE } from '../../src/global/queue/service-keys.js';
import { ServiceHost } from '../../src/global/service/service-host.js';
import { RecordingReceiver } from './recording-receiver.js';

const MASTER_CF = `
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
  -o syslog_name=postfix/$service_name
error     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
`;

async function waitForLog(file: string, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`no log line ${pattern} within ${timeoutMs} ms; log:\n${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function submit(host: ServiceHost, sender: string, rcpts: string[], body: string): Promise<string> {
  const cleanup = host.directory.get(CLEANUP_SERVICE);
  assert.ok(cleanup, 'the cleanup service is published');
  const tx = await cleanup.open({
    origin: 'smtpd',
    sender,
    client: {
      name: 'localhost',
      reverseName: 'localhost',
      addr: '127.0.0.1',
      port: 40000,
      helo: 'client.test',
      protocol: 'ESMTP',
    },
  });
  for (const address of rcpts) tx.addRecipient({ address });
  tx.write(Buffer.from(`From: <${sender}>\r\nSubject: wiring\r\nMessage-ID: <w1@client.test>\r\n\r\n${body}\r\n`));
  const verdict = await tx.commit();
  assert.equal(verdict.status, 'queued');
  return tx.queueId;
}

test('core services: cleanup → qmgr → smtp delivers, 5xx bounces back, unknown transport defers', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-wire-'));
  const receiver = await RecordingReceiver.start({ rejectRcpt: /^nobody@/ });
  const maillog = join(dir, 'maillog');
  const config = Config.fromText(`
myhostname = mx.example.test
mydomain = example.test
mydestination =
queue_directory = ${dir}/spool
maillog_file = ${maillog}
maillog_file_prefixes = ${dir}
inet_interfaces = 127.0.0.1
header_checks = regexp:${dir}/header_checks
transport_maps = inline:{nowhere.test=nosuch:[127.0.0.1]} inline:{relayed.test=relay:[127.0.0.1]:${receiver.port}}
relayhost = [127.0.0.1]:${receiver.port}
`);
  await writeFile(join(dir, 'header_checks'), '/^Subject: reject me/ REJECT no such subjects here\n');
  const host = new ServiceHost(new MemoryLogger());
  try {
    const { entries, problems } = parseMasterCf(MASTER_CF);
    assert.deepEqual(problems, []);
    const summary = await host.apply(config, entries, new Map());
    assert.equal(summary.skipped, 0);
    assert.ok(host.directory.get(QUEUE_STORE), 'the queue store is shared through the directory');

    const id = await submit(host, 'alice@example.test', ['bob@remote.test'], 'hello');
    const withLog = async <T>(p: Promise<T>): Promise<T> =>
      p.catch(async (e: Error) => {
        throw new Error(`${e.message}; log:\n${await readFile(maillog, 'utf8').catch(() => '')}`);
      });
    const [msg] = await withLog(receiver.waitFor(1));
    assert.equal(msg?.mailFrom, 'alice@example.test');
    assert.deepEqual(msg?.rcptTo, ['bob@remote.test']);
    assert.match(msg?.data ?? '', /^Subject: wiring\r\n/m);
    const relay = `127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${receiver.port}`;
    await waitForLog(
      maillog,
      new RegExp(
        `postfix/smtp\\[\\d+\\]: ${id}: to=<bob@remote\\.test>, relay=${relay}, delay=[\\d.]+, delays=[\\d./]+, dsn=2\\.0\\.0, status=sent \\(250 2\\.0\\.0 Ok: queued as REC1\\)`,
      ),
    );
    await waitForLog(maillog, new RegExp(`postfix/qmgr\\[\\d+\\]: ${id}: removed`));

    // the stock relay entry's -o syslog_name applies to its status lines
    const viaRelay = await submit(host, 'alice@example.test', ['erin@relayed.test'], 'via relay');
    await withLog(receiver.waitFor(2));
    await waitForLog(
      maillog,
      new RegExp(
        `postfix/relay/smtp\\[\\d+\\]: ${viaRelay}: to=<erin@relayed\\.test>, relay=${relay}, .*status=sent \\(250 2\\.0\\.0 Ok: queued as REC2\\)`,
      ),
    );

    // 5xx from the receiver: bounced, and the notice goes back to the sender through the same relay
    const bad = await submit(host, 'alice@example.test', ['nobody@remote.test'], 'to be bounced');
    await waitForLog(maillog, new RegExp(`${bad}: to=<nobody@remote\\.test>, .*dsn=5\\.1\\.1, status=bounced`));
    await waitForLog(maillog, new RegExp(`postfix/bounce\\[\\d+\\]: ${bad}: sender non-delivery notification: \\w+`));
    const [, , notice] = await withLog(receiver.waitFor(3));
    assert.equal(notice?.mailFrom, '');
    assert.deepEqual(notice?.rcptTo, ['alice@example.test']);
    assert.match(notice?.data ?? '', /Content-Type: message\/delivery-status/);
    assert.match(notice?.data ?? '', /Final-Recipient: rfc822; ?nobody@remote\.test/);

    // header_checks from main.cf apply in the wired cleanup service
    const cleanup = host.directory.get(CLEANUP_SERVICE);
    const tx = await cleanup?.open({ origin: 'smtpd', sender: 'alice@example.test' });
    tx?.addRecipient({ address: 'bob@remote.test' });
    tx?.write(Buffer.from('Subject: reject me please\r\n\r\nbody\r\n'));
    const verdict = await tx?.commit();
    assert.equal(verdict?.status, 'rejected');
    assert.match(
      verdict?.status === 'rejected' ? `${verdict.reply.code} ${verdict.reply.text}` : '',
      /^550 .*no such subjects here/,
    );

    // a transport that has no master.cf entry: deferred, still in the queue
    const stuck = await submit(host, 'alice@example.test', ['carol@nowhere.test'], 'stuck');
    await waitForLog(
      maillog,
      new RegExp(`${stuck}: to=<carol@nowhere\\.test>, relay=none, .*status=deferred \\(mail transport unavailable\\)`),
    );
    const store = host.directory.get(QUEUE_STORE);
    for (let i = 0; i < 200 && store?.get(stuck)?.state !== 'deferred'; i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.equal(store?.get(stuck)?.state, 'deferred');
  } finally {
    await host.stopAll(true);
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  }
});
