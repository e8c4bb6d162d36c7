// Addresses inside message headers, as cleanup(8) rewrites them: which
// spans are addresses (display names, comments, groups, source routes
// left alone), and through the real CleanupRewriter: local submissions get
// the local context plus canonical/masquerade per header class, remote
// clients are left alone unless remote_header_rewrite_domain is set; a
// changed header is rebuilt and refolded as Postfix 3.7 does (checked
// against Debian's Postfix on the same input), an unchanged one keeps its bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { openDict } from '../../src/global/dict/open.js';
import type { CleanupOpenRequest, CleanupVerdict } from '../../src/global/queue/cleanup-api.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import { addressSpans } from '../../src/daemons/cleanup/header-addresses.js';
import { CleanupRewriter } from '../../src/daemons/trivial-rewrite/cleanup-rewriter.js';
import { createRewriter } from '../../src/daemons/trivial-rewrite/trivial-rewrite.js';
import { readAll } from '../queue/helpers.js';

test('addressSpans finds each mailbox address and nothing else', () => {
  const texts = (v: string): string[] => addressSpans(v, 1000).map((s) => s.text);
  assert.deepEqual(texts(' "Bob, Smith" <bob>, carol (Carol Jones), undisclosed-recipients:;'), ['bob', 'carol']);
  assert.deepEqual(texts(' Team: a@example.org, "x y"@example.org; d@example.org'), [
    'a@example.org',
    '"x y"@example.org',
    'd@example.org',
  ]);
  assert.deepEqual(texts(' <@relay.example,@r2.example:user@example.org>'), [
    '@relay.example,@r2.example:user@example.org',
  ]);
  assert.deepEqual(texts(' <>'), []);
  assert.deepEqual(texts(' Bob <bob@example.org> (comment)'), ['bob@example.org']);
  const v = ' Bob\r\n <bob>';
  const [span] = addressSpans(v, 1000);
  assert.equal(v.slice(span?.start, span?.end), 'bob');
  // header_address_token_limit bounds the work: later addresses are not seen.
  assert.deepEqual(
    addressSpans(' a@b, c@d, e@f', 4).map((s) => s.text),
    ['a@b'],
  );
});

async function setup(extraCf: string): Promise<{
  headersOf(req: Partial<CleanupOpenRequest>, head: string): Promise<string>;
  done(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-hdraddr-'));
  await writeFile(join(dir, 'canonical'), 'bob@mx.example.net robert@example.net\n');
  const config = Config.fromText(
    `compatibility_level = 3.6
myhostname = mx.example.net
mydomain = example.net
canonical_maps = texthash:${join(dir, 'canonical')}
masquerade_domains = example.net
${extraCf}`,
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
  });
  return {
    async headersOf(req, head) {
      const tx = await server.open({ origin: 'pickup', sender: 'bob', ...req });
      tx.addRecipient({ address: 'x@remote.test' });
      tx.write(Buffer.from(`${head}Message-Id: <1@x>\r\nDate: Mon, 1 Jan 2026 00:00:00 +0000\r\n\r\nbody\r\n`));
      const v: CleanupVerdict = await tx.commit();
      assert.equal(v.status, 'queued', JSON.stringify(v));
      const text = v.status === 'queued' ? (await readAll(store.openContent(v.queueId))).toString('utf8') : '';
      return text.slice(0, text.indexOf('Message-Id:'));
    },
    async done() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
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

test('local submission: addresses qualified, canonical and masquerade applied, changed headers rebuilt as Postfix does', async () => {
  const h = await setup('');
  try {
    assert.equal(
      await h.headersOf(
        {},
        'From: "Bob B." <bob>\r\nTo: carol (Carol),\r\n  Dave <dave@host.example.net>, other@remote.test\r\n' +
          'Cc: "x y"@host.example.net, Team: a@b.example.net;\r\nReply-To:   x@remote.test  (unchanged)\r\n' +
          'Subject: bob <bob>\r\n',
      ),
      // Byte for byte what Debian's Postfix 3.7 cleanup wrote for the same input and tables.
      'From: "Bob B." <robert@example.net>\r\nTo: carol@example.net (Carol), Dave <dave@example.net>,\r\n\tother@remote.test\r\n' +
        'Cc: "x y"@example.net, Team: a@example.net;\r\nReply-To:   x@remote.test  (unchanged)\r\n' +
        'Subject: bob <bob>\r\n',
    );
  } finally {
    await h.done();
  }
});

test('more shapes, compared with Postfix: phrases with dots, long lists refolded, source routes, empty groups', async () => {
  const h = await setup('');
  try {
    assert.equal(
      await h.headersOf(
        {},
        'From: John Q. Public <bob>\r\nTo: a, b, c, d, e, f, gggggggggggggggggggggggg, hhhhhhhhhhhhhhhhhhhhhhh, iiiiiiiiiiiiiii, j\r\n' +
          'Cc: <@r1.x,@r2.x:bob@host.example.net>, undisclosed-recipients:;\r\nSender: bob (Bob (nested) x)\r\n',
      ),
      'From: John Q.Public <robert@example.net>\r\n' +
        'To: a@example.net, b@example.net, c@example.net, d@example.net,\r\n' +
        '\te@example.net, f@example.net, gggggggggggggggggggggggg@example.net,\r\n' +
        '\thhhhhhhhhhhhhhhhhhhhhhh@example.net, iiiiiiiiiiiiiii@example.net,\r\n' +
        '\tj@example.net\r\n' +
        'Cc: <bob@example.net>, undisclosed-recipients: ;\r\n' +
        'Sender: robert@example.net (Bob (nested) x)\r\n',
    );
  } finally {
    await h.done();
  }
});

test('remote clients: headers untouched unless remote_header_rewrite_domain is set', async () => {
  const plain = await setup('');
  try {
    const head = 'From: bob\r\nTo: carol , x@host.example.net\r\n';
    assert.equal(await plain.headersOf({ origin: 'smtpd', sender: 'a@remote.test', client: remote }, head), head);
  } finally {
    await plain.done();
  }
  const h = await setup('remote_header_rewrite_domain = domain.invalid\n');
  try {
    assert.equal(
      await h.headersOf(
        { origin: 'smtpd', sender: 'a@remote.test', client: remote },
        'From: bob\r\nTo: x@host.example.net\r\n',
      ),
      'From: bob@domain.invalid\r\nTo: x@example.net\r\n',
    );
  } finally {
    await h.done();
  }
});

test('canonical_classes without header classes leaves headers to the basic rewrite', async () => {
  const h = await setup(
    'canonical_classes = envelope_sender, envelope_recipient\nmasquerade_classes = envelope_sender\n',
  );
  try {
    assert.equal(
      await h.headersOf({}, 'From: bob\r\nCc: x@host.example.net\r\n'),
      'From: bob@mx.example.net\r\nCc: x@host.example.net\r\n',
    );
  } finally {
    await h.done();
  }
});

test('header_address_token_limit also bounds a rebuilt header: tokens past the limit are dropped, not rewritten', async () => {
  const h = await setup('header_address_token_limit = 10\n');
  try {
    // Tokens: bob , c @ remote . test , d @ | remote . test , e ... — the limit falls inside the third address.
    const out = await h.headersOf({}, 'To: bob, c@remote.test, d@remote.test, e@remote.test\r\n');
    assert.match(out, /^To: robert@example\.net, c@remote\.test,/);
    assert.doesNotMatch(out, /e@remote|d@remote\.test/);
    assert.equal(out, 'To: robert@example.net, c@remote.test, d@\r\n');
    // A header whose addresses stay as they are keeps its bytes, cut after the tenth token.
    const same = await h.headersOf({}, 'Cc: a@remote.test, b@remote.test, c@remote.test\r\n');
    assert.equal(same, 'Cc: a@remote.test, b@remote.\r\n');
    // Around the limit: 9 and 10 tokens are kept whole, the 11th is cut.
    assert.equal(await h.headersOf({}, 'Cc: a@remote.test, b@x\r\n'), 'Cc: a@remote.test, b@x\r\n');
    assert.equal(await h.headersOf({}, 'Cc: a@remote.test, (c) b@x\r\n'), 'Cc: a@remote.test, (c) b@x\r\n');
    assert.equal(await h.headersOf({}, 'Cc: a@remote.test, b@x.y\r\n'), 'Cc: a@remote.test, b@x.\r\n');
  } finally {
    await h.done();
  }
});
