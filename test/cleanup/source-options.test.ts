// What a message's source service decides in cleanup(8): content_filter is
// stamped on the queued message (a FILTER action outranks it; bounces never
// get it), and receive_override_options no_address_mappings /
// no_header_body_checks switch off canonical/virtual mapping and the
// header/body tables for mail from that master.cf entry only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { openDict } from '../../src/global/dict/open.js';
import { parseMasterCf } from '../../src/global/mastercf/parse.js';
import type { CleanupOpenRequest, CleanupVerdict } from '../../src/global/queue/cleanup-api.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import { createContentChecks } from '../../src/daemons/cleanup/checks/content-checks.js';
import { sourceConfigs } from '../../src/daemons/cleanup/source-config.js';
import { CleanupRewriter } from '../../src/daemons/trivial-rewrite/cleanup-rewriter.js';
import { createRewriter } from '../../src/daemons/trivial-rewrite/trivial-rewrite.js';

const MASTER_CF = `smtp      inet  n       -       n       -       -       smtpd
smtp      unix  -       -       n       -       -       smtp
  -o content_filter=wrong:entry
127.0.0.1:10026 inet n  -       n       -       10      smtpd
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters,no_address_mappings
127.0.0.1:10027 inet n  -       n       -       10      smtpd
  -o receive_override_options=no_header_body_checks,bogus_option
pickup    unix  n       -       n       60      1       pickup
  -o content_filter=scan:[127.0.0.1]:10030
`;

async function setup(
  extraCf = '',
  opts: { cleanupFilter?: string; masterCf?: string } = {},
): Promise<{
  store: SegmentStore;
  log: MemoryLogger;
  submit(req: Partial<CleanupOpenRequest>, subject?: string, rcpts?: string[]): Promise<CleanupVerdict>;
  done(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-srcopts-'));
  await writeFile(
    join(dir, 'header_checks'),
    '/^Subject: .*forbidden/ REJECT no forbidden words\n/^Subject: .*divert/ FILTER other:[192.0.2.9]\n',
  );
  await writeFile(join(dir, 'canonical'), 'alice@example.com alice.smith@example.com\n');
  await writeFile(join(dir, 'sbcc'), 'alice.smith@example.com sender-copy@archive.test\n');
  await writeFile(join(dir, 'rbcc'), '@remote.test rcpt-copy@archive.test\nteam@example.com team-copy@archive.test\n');
  await writeFile(join(dir, 'virtual'), 'team@example.com a@remote.test, b@remote.test\n');
  const config = Config.fromText(
    `myhostname = mx.example.net
mydomain = example.net
content_filter = scan:[127.0.0.1]:10025
canonical_maps = texthash:${join(dir, 'canonical')}
virtual_alias_maps = texthash:${join(dir, 'virtual')}
header_checks = regexp:${join(dir, 'header_checks')}
${extraCf.replaceAll('$DIR', dir)}`,
  );
  const log = new MemoryLogger('postfix/cleanup');
  const store = await SegmentStore.open({ queueDirectory: join(dir, 'queue'), logger: log });
  const open = (spec: string) => openDict(spec, { config });
  const server = new CleanupServer({
    store,
    config,
    logger: log,
    rewriter: new CleanupRewriter(
      config,
      open,
      createRewriter({ config, openDict: open, interfaceAddresses: new Set() }),
    ),
    checks: await createContentChecks({ config, logger: log, openDict: open }),
    sourceConfig: sourceConfigs(config, parseMasterCf(opts.masterCf ?? MASTER_CF).entries),
    ...(opts.cleanupFilter !== undefined ? { cleanupFilter: opts.cleanupFilter } : {}),
  });
  return {
    store,
    log,
    async submit(req, subject = 'hello', rcpts = ['team@example.com']) {
      const tx = await server.open({ origin: 'smtpd', sender: 'alice@example.com', ...req });
      for (const address of rcpts) tx.addRecipient({ address });
      tx.write(Buffer.from(`From: alice@example.com\r\nSubject: ${subject}\r\n\r\nbody\r\n`));
      return tx.commit();
    },
    async done() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function queuedId(v: CleanupVerdict): string {
  assert.equal(v.status, 'queued', JSON.stringify(v));
  return v.status === 'queued' ? v.queueId : '';
}

test('main.cf content_filter is stamped on mail from an smtpd entry without overrides, after mapping and checks', async () => {
  const h = await setup();
  try {
    const m = h.store.get(queuedId(await h.submit({ service: 'smtp' })));
    assert.equal(m?.filter, 'scan:[127.0.0.1]:10025', 'the smtpd entry, not the smtp client entry of the same name');
    assert.equal(m?.sender, 'alice.smith@example.com');
    assert.deepEqual(
      m?.recipients.map((r) => r.address),
      ['a@remote.test', 'b@remote.test'],
    );
    const v = await h.submit({ service: 'smtp' }, 'a forbidden subject');
    assert.equal(v.status, 'rejected');
    // A request naming no service, or one master.cf does not list, gets main.cf's values.
    assert.equal(h.store.get(queuedId(await h.submit({})))?.filter, 'scan:[127.0.0.1]:10025');
    assert.equal(h.store.get(queuedId(await h.submit({ service: 'nosuch' })))?.filter, 'scan:[127.0.0.1]:10025');
  } finally {
    await h.done();
  }
});

test('the re-injection entry: content_filter= leaves mail unfiltered; no_address_mappings and no_header_body_checks apply', async () => {
  const h = await setup();
  try {
    const m = h.store.get(queuedId(await h.submit({ service: '127.0.0.1:10026' }, 'a forbidden subject')));
    assert.equal(m?.filter, undefined);
    assert.equal(m?.sender, 'alice@example.com', 'no canonical mapping');
    assert.deepEqual(
      m?.recipients.map((r) => r.address),
      ['team@example.com'],
      'no virtual alias expansion',
    );
  } finally {
    await h.done();
  }
});

test('no_header_body_checks alone keeps mapping; an unknown option is warned about and ignored', async () => {
  const h = await setup();
  try {
    const m = h.store.get(queuedId(await h.submit({ service: '127.0.0.1:10027' }, 'forbidden')));
    assert.equal(m?.sender, 'alice.smith@example.com');
    assert.equal(m?.recipients.length, 2);
    assert.equal(m?.filter, 'scan:[127.0.0.1]:10025');
    assert.ok(h.log.texts().includes('warning: unknown receive_override_options value "bogus_option" -- ignored'));
  } finally {
    await h.done();
  }
});

test('a FILTER action outranks content_filter; pickup has its own; bounces are neither filtered nor checked', async () => {
  const h = await setup();
  try {
    assert.equal(
      h.store.get(queuedId(await h.submit({ service: 'smtp' }, 'please divert')))?.filter,
      'other:[192.0.2.9]',
    );
    assert.equal(
      h.store.get(queuedId(await h.submit({ origin: 'pickup', service: 'pickup' })))?.filter,
      'scan:[127.0.0.1]:10030',
    );
    const bounce = h.store.get(queuedId(await h.submit({ origin: 'bounce', sender: '' })));
    assert.equal(bounce?.filter, undefined);
    // Internally generated mail skips header_checks (a notice returning a refused message must get through).
    queuedId(await h.submit({ origin: 'bounce', sender: '' }, 'a forbidden subject'));
    queuedId(await h.submit({ origin: 'local' }, 'a forbidden subject'));
  } finally {
    await h.done();
  }
});

test('automatic BCC: recipient_bcc_maps (before virtual expansion), sender_bcc_maps and always_bcc, NOTIFY=NEVER', async () => {
  const h = await setup(
    'recipient_bcc_maps = texthash:$DIR/rbcc\nsender_bcc_maps = texthash:$DIR/sbcc\nalways_bcc = all@archive.test\n',
  );
  try {
    const m = h.store.get(
      queuedId(await h.submit({ service: 'smtp' }, 'hello', ['team@example.com', 'x@remote.test'])),
    );
    const rcpts = m?.recipients.map((r) => [r.address, r.original, (r.notify ?? []).join(',')]);
    assert.deepEqual(rcpts, [
      ['a@remote.test', 'team@example.com', ''],
      ['b@remote.test', 'team@example.com', ''],
      ['x@remote.test', 'x@remote.test', ''],
      ['team-copy@archive.test', 'team-copy@archive.test', 'NEVER'],
      ['rcpt-copy@archive.test', 'rcpt-copy@archive.test', 'NEVER'],
      ['sender-copy@archive.test', 'sender-copy@archive.test', 'NEVER'],
      ['all@archive.test', 'all@archive.test', 'NEVER'],
    ]);
    // Not for the re-injection entry (no_address_mappings), not for notices.
    const back = h.store.get(queuedId(await h.submit({ service: '127.0.0.1:10026' })));
    assert.deepEqual(
      back?.recipients.map((r) => r.address),
      ['team@example.com'],
    );
    const notice = h.store.get(queuedId(await h.submit({ origin: 'bounce', sender: '' })));
    assert.equal(notice?.recipients.length, 2);
  } finally {
    await h.done();
  }
});

test('-o content_filter on the cleanup entry filters mail from every source; a source entry setting its own wins', async () => {
  // What the cleanup service builds for `cleanup unix ... cleanup -o content_filter=scan:[127.0.0.1]:10040`:
  // cleanup's own parameters (main.cf + its -o) are the base the sources' entries override.
  const h = await setup('content_filter = scan:[127.0.0.1]:10040\n', {
    cleanupFilter: 'scan:[127.0.0.1]:10040',
    masterCf: MASTER_CF.replace('  -o content_filter=scan:[127.0.0.1]:10030\n', ''),
  });
  try {
    const filterOf = async (req: Partial<CleanupOpenRequest>): Promise<string | undefined> =>
      h.store.get(queuedId(await h.submit(req)))?.filter;
    assert.equal(await filterOf({ service: 'smtp' }), 'scan:[127.0.0.1]:10040');
    assert.equal(await filterOf({ origin: 'pickup', service: 'pickup' }), 'scan:[127.0.0.1]:10040');
    assert.equal(await filterOf({ origin: 'sendmail' }), 'scan:[127.0.0.1]:10040');
    // Unlike main.cf's content_filter, notices and forwarded mail are filtered too.
    assert.equal(await filterOf({ origin: 'bounce', sender: '' }), 'scan:[127.0.0.1]:10040');
    assert.equal(await filterOf({ origin: 'local' }), 'scan:[127.0.0.1]:10040');
    // The re-injection entry's own `-o content_filter=` keeps filtered mail from looping.
    assert.equal(await filterOf({ service: '127.0.0.1:10026' }), undefined);
  } finally {
    await h.done();
  }
});
