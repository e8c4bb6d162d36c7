// Restriction behaviour that needs more than a golden line: the policy
// delegation protocol over real sockets, DNS block lists, table failures,
// lookup order, and robustness against arbitrary session facts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createSmtpdPolicy } from '../../src/daemons/smtpd/restrictions/index.js';
import type { PolicyVerdict } from '../../src/daemons/smtpd/policy-api.js';
import { DictSet, FakeResolver, MapDict, facts } from './harness.js';
import { DictRetryError } from '../../src/global/dict/dict-api.js';

const BASE =
  'compatibility_level = 3.7\nmyhostname = mail.example.com\nmydomain = example.com\nmynetworks = 127.0.0.0/8\nlocal_recipient_maps =\n';

function policy(
  mainCf: string,
  dicts = new DictSet(),
  dns = new FakeResolver(),
  logger = new MemoryLogger('postfix/smtpd'),
) {
  const p = createSmtpdPolicy({
    config: Config.fromText(BASE + mainCf),
    openDict: dicts.opener,
    resolver: dns,
    logger,
    localAddresses: ['127.0.0.1'],
  });
  return { p, dicts, dns, logger };
}

function replyOf(v: PolicyVerdict): string {
  return v.action === 'reject' ? `${v.reply.code} ${v.reply.dsn} ${v.reply.text}` : v.action;
}

/** A policy server that records requests and answers with `answer(request)`; `null` closes without answering. */
async function policyServer(answer: (req: Map<string, string>) => string | null, listenOn: string | number) {
  const requests: Map<string, string>[] = [];
  const open = new Set<import('node:net').Socket>();
  const stats = { connections: 0 };
  const server: Server = createServer((sock) => {
    stats.connections++;
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      const end = buf.indexOf('\n\n');
      if (end < 0) return;
      const req = new Map(
        buf
          .slice(0, end)
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]),
      );
      buf = buf.slice(end + 2);
      requests.push(req);
      const a = answer(req);
      if (a === null) sock.destroy();
      else sock.write(`action=${a}\n\n`);
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((res) =>
    typeof listenOn === 'number' ? server.listen(listenOn, '127.0.0.1', res) : server.listen(listenOn, res),
  );
  const addr = server.address();
  const spec = typeof addr === 'object' && addr ? `inet:127.0.0.1:${addr.port}` : `unix:${String(listenOn)}`;
  return {
    spec,
    requests,
    stats,
    dropIdle: () => open.forEach((sock) => sock.destroy()),
    close: () =>
      new Promise<void>((res) => {
        server.close(() => res());
        // smtpd keeps idle policy connections open; drop them so close() completes.
        for (const sock of open) sock.destroy();
      }),
  };
}

test('check_policy_service over inet: request attributes and actions', async () => {
  const srv = await policyServer((req) => (req.get('sender') === 'spam@bad.example' ? 'REJECT go away' : 'DUNNO'), 0);
  try {
    const { p } = policy(
      `smtpd_recipient_restrictions = check_policy_service ${srv.spec}, reject_unauth_destination\n` +
        `smtpd_data_restrictions = check_policy_service ${srv.spec}\n`,
    );
    const f = facts({
      helo: 'h.example',
      sender: 'spam@bad.example',
      recipient: 'u@mail.example.com',
      recipientCount: 2,
      saslUsername: 'bob',
      saslSender: 'bob@mail.example.com',
    });
    assert.equal(
      replyOf(await p.check('rcpt', f)),
      '554 5.7.1 <u@mail.example.com>: Recipient address rejected: go away',
    );
    const req = srv.requests[0] ?? assert.fail('no request');
    assert.equal(req.get('request'), 'smtpd_access_policy');
    assert.equal(req.get('protocol_state'), 'RCPT');
    assert.equal(req.get('protocol_name'), 'ESMTP');
    assert.equal(req.get('client_address'), '192.0.2.99');
    assert.equal(req.get('helo_name'), 'h.example');
    assert.equal(req.get('recipient'), 'u@mail.example.com');
    // As in Postfix, the count is sent only in the DATA and END-OF-MESSAGE states.
    assert.equal(req.get('recipient_count'), '0');
    assert.equal(req.get('sasl_username'), 'bob');
    assert.equal(req.get('sasl_sender'), 'bob@mail.example.com');
    assert.equal(
      replyOf(await p.check('rcpt', facts({ sender: 'ok@good.example', recipient: 'u@mail.example.com' }))),
      'dunno',
    );
    await p.check(
      'data',
      facts({
        sender: 'ok@good.example',
        recipientCount: 3,
        queueId: '4ABCDEF',
        tls: true,
        tlsSession: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', bits: 256 },
        tlsCert: {
          subjectCN: 'client one',
          issuerCN: 'CA=x',
          fingerprint: 'AA:BB',
          pubkeyFingerprint: 'CC:DD',
          verified: true,
        },
      }),
    );
    const d = srv.requests.at(-1) ?? assert.fail('no request');
    assert.deepEqual(
      ['protocol_state', 'recipient_count', 'queue_id', 'ccert_subject', 'ccert_issuer', 'ccert_fingerprint']
        .concat(['ccert_pubkey_fingerprint', 'encryption_protocol', 'encryption_cipher', 'encryption_keysize'])
        .map((k) => d.get(k)),
      ['DATA', '3', '4ABCDEF', 'client+20one', 'CA+3Dx', 'AA:BB', 'CC:DD', 'TLSv1.3', 'TLS_AES_256_GCM_SHA384', '256'],
    );
  } finally {
    await srv.close();
  }
});

test('check_policy_service over a unix socket; newlines in facts cannot inject attributes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-policy-'));
  const srv = await policyServer((req) => (req.has('injected') ? 'REJECT injected' : 'OK'), join(dir, 'policy'));
  try {
    const { p } = policy(`smtpd_recipient_restrictions = check_policy_service ${srv.spec}, reject\n`);
    const v = await p.check('rcpt', facts({ helo: 'x\ninjected=1', recipient: 'u@mail.example.com' }));
    assert.equal(v.action, 'permit');
  } finally {
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('an unreachable or broken policy server gives the default action after the retries', async () => {
  const srv = await policyServer(() => null, 0);
  try {
    const { p, logger } = policy(`smtpd_recipient_restrictions = check_policy_service ${srv.spec}, permit\n`);
    assert.equal(
      replyOf(await p.check('rcpt', facts({ recipient: 'u@mail.example.com' }))),
      '451 4.3.5 <u@mail.example.com>: Recipient address rejected: Server configuration problem',
    );
    assert.equal(srv.requests.length, 2, 'smtpd_policy_service_try_limit = 2');
    assert.ok(logger.texts().some((t) => t.startsWith(`warning: problem talking to server ${srv.spec}`)));
    const braced = policy(
      `smtpd_recipient_restrictions = check_policy_service { ${srv.spec}, default_action=DUNNO, try_limit=1 }, reject_unauth_destination\n`,
    );
    assert.equal((await braced.p.check('rcpt', facts({ recipient: 'u@mail.example.com' }))).action, 'dunno');
  } finally {
    await srv.close();
  }
});

test('reject_rbl_client and permit_dnswl_client', async () => {
  const dns = new FakeResolver()
    .set('5.113.0.203.zen.example', 'A', ['127.0.0.2'])
    .set('5.113.0.203.zen.example', 'TXT', ['listed for spam'])
    .set('6.113.0.203.zen.example', 'A', ['127.0.0.10'])
    .set('7.113.0.203.wl.example', 'A', ['127.0.2.1']);
  const { p } = policy(
    'smtpd_client_restrictions = permit_dnswl_client wl.example, reject_rbl_client zen.example=127.0.0.[2..4], reject_rbl_client zen.example\n',
    new DictSet(),
    dns,
  );
  assert.equal(
    replyOf(await p.check('connect', facts({ clientAddr: '203.0.113.5' }))),
    '554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.example; listed for spam',
  );
  assert.equal(
    replyOf(await p.check('connect', facts({ clientAddr: '203.0.113.6' }))),
    '554 5.7.1 Service unavailable; Client host [203.0.113.6] blocked using zen.example',
  );
  assert.equal(replyOf(await p.check('connect', facts({ clientAddr: '203.0.113.7' }))), 'permit');
  assert.equal(replyOf(await p.check('connect', facts({ clientAddr: '203.0.113.8' }))), 'dunno');
});

test('reject_rhsbl_sender queries the sender domain', async () => {
  const dns = new FakeResolver().set('bad.example.dbl.example', 'A', ['127.0.1.2']);
  const { p } = policy('smtpd_sender_restrictions = reject_rhsbl_sender dbl.example\n', new DictSet(), dns);
  assert.equal(
    replyOf(await p.check('mail', facts({ sender: 'x@bad.example' }))),
    '554 5.7.1 Service unavailable; Sender address [bad.example] blocked using dbl.example',
  );
  assert.equal(replyOf(await p.check('mail', facts({ sender: 'x@good.example' }))), 'dunno');
});

test('a table that cannot answer gives 451 4.3.0, never an exception', async () => {
  const dicts = new DictSet();
  dicts.dicts.set('hash:flaky', new MapDict('hash:flaky', new Map(), new Set(['x@example.net'])));
  const { p } = policy('smtpd_sender_restrictions = check_sender_access hash:flaky\n', dicts);
  assert.equal(
    replyOf(await p.check('mail', facts({ sender: 'x@example.net' }))),
    '451 4.3.0 <x@example.net>: Temporary lookup failure',
  );
  const failing = createSmtpdPolicy({
    config: Config.fromText(BASE + 'smtpd_sender_restrictions = check_sender_access hash:gone\n'),
    openDict: () => Promise.reject(new DictRetryError('hash:gone: cannot open')),
    resolver: new FakeResolver(),
    logger: new MemoryLogger(),
  });
  assert.equal(
    replyOf(await failing.check('mail', facts({ sender: 'x@example.net' }))),
    '451 4.3.0 <x@example.net>: Temporary lookup failure',
  );
});

test('check_client_access looks up the name, its parents, then the address octets', async () => {
  const dicts = new DictSet();
  const { p } = policy('smtpd_client_restrictions = check_client_access hash:c\n', dicts);
  await p.check('connect', facts({ clientName: 'a.b.example', clientAddr: '192.0.2.1' }));
  assert.deepEqual(dicts.get('hash:c').lookups, [
    'a.b.example',
    'b.example',
    'example',
    '192.0.2.1',
    '192.0.2',
    '192.0',
    '192',
  ]);
});

test('check_recipient_mx_access refuses OK and matches MX names and addresses', async () => {
  const dns = new FakeResolver()
    .set('victim.example', 'MX', ['mx.victim.example'])
    .set('mx.victim.example', 'A', ['10.1.2.3'])
    .set('fine.example', 'MX', ['mx.fine.example'])
    .set('mx.fine.example', 'A', ['192.0.2.44']);
  const dicts = new DictSet();
  dicts.get('hash:mx').set('10', 'REJECT MX in private network').set('mx.fine.example', 'OK');
  const { p, logger } = policy(
    'smtpd_recipient_restrictions = check_recipient_mx_access hash:mx, permit\n',
    dicts,
    dns,
  );
  assert.equal(
    replyOf(await p.check('rcpt', facts({ clientAddr: '127.0.0.1', recipient: 'u@victim.example' }))),
    '554 5.7.1 <u@victim.example>: Recipient address rejected: MX in private network',
  );
  assert.equal(
    replyOf(await p.check('rcpt', facts({ clientAddr: '127.0.0.1', recipient: 'u@fine.example' }))),
    'permit',
  );
  assert.ok(logger.texts().some((t) => t.includes('action "OK" is not allowed')));
});

test('arbitrary facts never make check() throw', async () => {
  const { p } = policy(
    [
      'smtpd_client_restrictions = check_client_access hash:c, reject_unknown_client_hostname',
      'smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, check_helo_access hash:h',
      'smtpd_sender_restrictions = reject_non_fqdn_sender, check_sender_access hash:s, reject_unknown_sender_domain',
      'smtpd_recipient_restrictions = reject_non_fqdn_recipient, permit_mynetworks, reject_unauth_destination, reject_unlisted_recipient',
    ].join('\n'),
  );
  const text = fc.string({ maxLength: 60 });
  await fc.assert(
    fc.asyncProperty(
      text,
      text,
      text,
      text,
      fc.constantFrom<'connect' | 'helo' | 'mail' | 'rcpt'>('connect', 'helo', 'mail', 'rcpt'),
      async (addr, helo, sender, rcpt, stage) => {
        const v = await p.check(stage, facts({ clientAddr: addr, helo, sender, recipient: rcpt }));
        assert.ok(['permit', 'dunno', 'reject', 'accept-with'].includes(v.action));
        if (v.action === 'reject') assert.match(`${v.reply.code} ${v.reply.dsn}`, /^[45]\d\d [45]\.\d+\.\d+$/);
      },
    ),
    { numRuns: 200 },
  );
});

test('rbl_reply_maps and default_rbl_reply templates', async () => {
  const dns = new FakeResolver()
    .set('5.113.0.203.zen.example', 'A', ['127.0.0.2'])
    .set('5.113.0.203.other.example', 'A', ['127.0.0.2'])
    .set('5.113.0.203.other.example', 'TXT', ['see https://other.example/']);
  const dicts = new DictSet();
  dicts
    .get('hash:rbl')
    .set('zen.example', '450 4.7.1 ${client_address} is on $rbl_domain${rbl_reason:, no reason given}');
  const { p } = policy(
    [
      'smtpd_client_restrictions = reject_rbl_client zen.example, reject_rbl_client other.example',
      'rbl_reply_maps = hash:rbl',
      'default_rbl_reply = $rbl_code 5.7.2 Go away, [$client_address] is listed by $rbl_domain${rbl_reason?: $rbl_reason}',
    ].join('\n'),
    dicts,
    dns,
  );
  assert.equal(
    replyOf(await p.check('connect', facts({ clientAddr: '203.0.113.5' }))),
    '450 4.7.1 203.0.113.5 is on zen.example, no reason given',
  );
  dicts.get('hash:rbl').set('zen.example', 'DUNNO is not a reply');
  const { p: p2, logger } = policy(
    'smtpd_client_restrictions = reject_rbl_client zen.example\nrbl_reply_maps = hash:rbl\n',
    dicts,
    dns,
  );
  assert.equal(
    replyOf(await p2.check('connect', facts({ clientAddr: '203.0.113.5' }))),
    '451 4.3.5 Server configuration error',
  );
  assert.ok(logger.texts().some((t) => t.includes('does not start with a 4xx or 5xx code')));
  const p3 = policy(
    'smtpd_client_restrictions = reject_rbl_client other.example\ndefault_rbl_reply = $rbl_code 5.7.2 Go away, [$client_address] is listed by $rbl_domain${rbl_reason?: $rbl_reason}\n',
    new DictSet(),
    dns,
  ).p;
  assert.equal(
    replyOf(await p3.check('connect', facts({ clientAddr: '203.0.113.5' }))),
    '554 5.7.2 Go away, [203.0.113.5] is listed by other.example: see https://other.example/',
  );
});

test('client text cannot split a reply or forge a log line', async () => {
  const { p } = policy('smtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n');
  const v = await p.check('helo', facts({ helo: 'x\r\n250 2.0.0 fake' }));
  assert.equal(v.action, 'reject');
  if (v.action !== 'reject') return;
  assert.ok(!/[\r\n]/.test(v.reply.text), v.reply.text);
  assert.ok(!/[\r\n]/.test(v.logText), v.logText);
  assert.equal(v.reply.text, '<x??250 2.0.0 fake>: Helo command rejected: need fully-qualified hostname');
});

test('policy connections are kept open between requests and replaced when the server drops them', async () => {
  const srv = await policyServer(() => 'DUNNO', 0);
  try {
    const { p, logger } = policy(
      `smtpd_recipient_restrictions = check_policy_service { ${srv.spec}, try_limit=1 }, permit\n`,
    );
    const f = facts({ recipient: 'u@mail.example.com' });
    for (let i = 0; i < 3; i++) assert.equal((await p.check('rcpt', f)).action, 'permit');
    assert.equal(srv.requests.length, 3);
    assert.equal(srv.stats.connections, 1);
    srv.dropIdle();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await p.check('rcpt', f)).action, 'permit');
    assert.equal(srv.stats.connections, 2);
    assert.ok(!logger.texts().some((t) => t.includes('problem talking')), 'a dropped idle connection is not a failure');
  } finally {
    await srv.close();
  }
});
