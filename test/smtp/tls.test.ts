// TLS client policy against a STARTTLS peer whose certificate comes from a
// CA the test makes with openssl: may (opportunistic), encrypt, verify, and
// the log line Postfix writes when the TLS session is established.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { FakeDns } from '../dns/fake-dns-server.js';
import { SmtpAgent } from '../../src/daemons/smtp/agent.js';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { makeAgent, makeRequest, startPeer, tempDir, type Peer } from './harness.js';

let dir = '';
let tlsPeer: Peer;
let plainPeer: Peer;
let dns: FakeDns;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

before(async () => {
  dir = await tempDir();
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=Test CA',
  ]);
  openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'srv.key',
    '-out',
    'srv.csr',
    '-subj',
    '/CN=mx.tls.test',
  ]);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:mx.tls.test\n');
  openssl([
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  tlsPeer = await startPeer({ cert: join(dir, 'srv.pem'), key: join(dir, 'srv.key') });
  plainPeer = await startPeer({});
  const spki = new X509Certificate(readFileSync(join(dir, 'srv.pem'))).publicKey.export({
    type: 'spki',
    format: 'der',
  });
  const tlsa = (hash: Buffer) => ({ usage: 3, selector: 1, matchingType: 1, certificate: hash });
  dns = new FakeDns({
    authentic: [
      'dane.test',
      'mx.dane.test',
      'bad.test',
      'mx.bad.test',
      `_${tlsPeer.port}._tcp.mx.dane.test`,
      `_${tlsPeer.port}._tcp.mx.bad.test`,
    ],
    records: [
      { name: 'dane.test', type: 'MX', data: { preference: 10, exchange: 'mx.dane.test' } },
      { name: 'mx.dane.test', type: 'A', data: '127.0.0.1' },
      {
        name: `_${tlsPeer.port}._tcp.mx.dane.test`,
        type: 'TLSA',
        data: tlsa(createHash('sha256').update(spki).digest()),
      },
      { name: 'bad.test', type: 'MX', data: { preference: 10, exchange: 'mx.bad.test' } },
      { name: 'mx.bad.test', type: 'A', data: '127.0.0.1' },
      { name: `_${tlsPeer.port}._tcp.mx.bad.test`, type: 'TLSA', data: tlsa(Buffer.alloc(32, 7)) },
      { name: 'tls.test', type: 'MX', data: { preference: 10, exchange: 'mx.tls.test' } },
      { name: 'mx.tls.test', type: 'A', data: '127.0.0.1' },
      { name: 'other.test', type: 'MX', data: { preference: 10, exchange: 'mx.other.test' } },
      { name: 'mx.other.test', type: 'A', data: '127.0.0.1' },
    ],
  });
  await dns.start();
});
after(async () => {
  tlsPeer.stop();
  plainPeer.stop();
  await dns.stop();
});

test('may: STARTTLS is used and logged as Untrusted without a CA', async () => {
  const { agent, log } = makeAgent('smtp_tls_security_level = may', dns.port);
  const [o] = await agent.deliver(makeRequest(`tls.test:${tlsPeer.port}`, ['a@tls.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  const line = log.texts().find((t) => t.includes('TLS connection established'));
  assert.match(
    line ?? '',
    new RegExp(
      `^Untrusted TLS connection established to mx\\.tls\\.test\\[127\\.0\\.0\\.1\\]:${tlsPeer.port}: TLSv1\\.[23] with cipher \\S+ \\(\\d+/\\d+ bits\\)$`,
    ),
  );
  const msg = (await tlsPeer.records()).find((r) => r.data);
  assert.equal(msg?.tls, true);
});

test('verify with the CA file and a matching MX host name: Verified', async () => {
  const { agent, log } = makeAgent(
    `smtp_tls_security_level = verify\nsmtp_tls_CAfile = ${join(dir, 'ca.pem')}`,
    dns.port,
  );
  const [o] = await agent.deliver(makeRequest(`tls.test:${tlsPeer.port}`, ['a@tls.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  assert.ok(log.texts().some((t) => t.startsWith('Verified TLS connection established to mx.tls.test[127.0.0.1]')));
});

test('verify: an untrusted chain or a name mismatch defers with 4.7.5', async () => {
  const untrusted = makeAgent('smtp_tls_security_level = verify', dns.port);
  const [a] = await untrusted.agent.deliver(makeRequest(`tls.test:${tlsPeer.port}`, ['a@tls.test']));
  assert.deepEqual(
    { s: a?.status, d: a?.dsn, r: a?.reason },
    { s: 'deferred', d: '4.7.5', r: 'Server certificate not trusted' },
  );
  // mx.other.test resolves to the same server, whose certificate names only mx.tls.test.
  const mismatch = makeAgent(`smtp_tls_security_level = verify\nsmtp_tls_CAfile = ${join(dir, 'ca.pem')}`, dns.port);
  const [b] = await mismatch.agent.deliver(makeRequest(`other.test:${tlsPeer.port}`, ['a@other.test']));
  assert.deepEqual(
    { s: b?.status, d: b?.dsn, r: b?.reason },
    { s: 'deferred', d: '4.7.5', r: 'Server certificate not verified' },
  );
});

test('encrypt: a server without STARTTLS defers with 4.7.4; may falls back to plaintext', async () => {
  const enc = makeAgent('smtp_tls_security_level = encrypt');
  const [a] = await enc.agent.deliver(makeRequest(`[127.0.0.1]:${plainPeer.port}`, ['a@d.test']));
  assert.deepEqual(
    { s: a?.status, d: a?.dsn, r: a?.reason },
    { s: 'deferred', d: '4.7.4', r: 'TLS is required, but was not offered by host 127.0.0.1[127.0.0.1]' },
  );
  const may = makeAgent('smtp_tls_security_level = may');
  const [b] = await may.agent.deliver(makeRequest(`[127.0.0.1]:${plainPeer.port}`, ['a@d.test']));
  await may.agent.close();
  assert.equal(b?.status, 'sent');
});

test('smtp_tls_policy_maps overrides the level per destination', async () => {
  const agent = new SmtpAgent({
    config: Config.fromText(
      'myhostname = client.test\ninet_interfaces = 127.0.0.250\nsmtp_tls_policy_maps = test:policy\n',
    ),
    log: new MemoryLogger(),
    ownAddresses: new Set(),
    openDict: (spec) =>
      Promise.resolve({
        spec,
        lookup: (key: string) => Promise.resolve(key === `[127.0.0.1]:${plainPeer.port}` ? 'encrypt' : undefined),
        close: () => Promise.resolve(),
      }),
  });
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${plainPeer.port}`, ['a@d.test']));
  assert.equal(o?.dsn, '4.7.4');
  assert.equal(o?.status, 'deferred');
});

test('dane: a validated TLSA 3 1 1 record verifies the server; a wrong digest defers; unsigned DNS means may', async () => {
  const cf = 'smtp_dns_support_level = dnssec\nsmtp_tls_security_level = dane';
  const good = makeAgent(cf, dns.port);
  const [a] = await good.agent.deliver(makeRequest(`dane.test:${tlsPeer.port}`, ['a@dane.test']));
  await good.agent.close();
  assert.equal(a?.status, 'sent');
  assert.ok(
    good.log
      .texts()
      .some((t) => t.startsWith(`Verified TLS connection established to mx.dane.test[127.0.0.1]:${tlsPeer.port}`)),
  );
  const bad = makeAgent(cf, dns.port);
  const [b] = await bad.agent.deliver(makeRequest(`bad.test:${tlsPeer.port}`, ['a@bad.test']));
  assert.deepEqual(
    { s: b?.status, d: b?.dsn, r: b?.reason },
    { s: 'deferred', d: '4.7.5', r: 'Server certificate not verified' },
  );
  // tls.test has no AD bit: DANE falls back to opportunistic TLS.
  const insecure = makeAgent(cf, dns.port);
  const [c] = await insecure.agent.deliver(makeRequest(`tls.test:${tlsPeer.port}`, ['a@tls.test']));
  await insecure.agent.close();
  assert.equal(c?.status, 'sent');
  assert.ok(insecure.log.texts().some((t) => t.startsWith('Untrusted TLS connection established to mx.tls.test')));
});

function fingerprint(digest: string, what: 'cert' | 'pkey'): string {
  const x = new X509Certificate(readFileSync(join(dir, 'srv.pem')));
  const der = what === 'cert' ? x.raw : x.publicKey.export({ type: 'spki', format: 'der' });
  return createHash(digest)
    .update(der)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}

test('fingerprint: the certificate digest in smtp_tls_fingerprint_cert_match verifies an untrusted server', async () => {
  const ok = makeAgent(
    `compatibility_level = 3.6\nsmtp_tls_security_level = fingerprint\nsmtp_tls_fingerprint_cert_match = ${fingerprint('sha256', 'cert')}`,
    dns.port,
  );
  const [a] = await ok.agent.deliver(makeRequest(`other.test:${tlsPeer.port}`, ['a@other.test']));
  await ok.agent.close();
  assert.equal(a?.status, 'sent');
  assert.ok(ok.log.texts().some((t) => t.startsWith('Verified TLS connection established to mx.other.test')));
  // The same digest under md5 (the default below compatibility level 3.6) does not match.
  const md5 = makeAgent(
    `smtp_tls_security_level = fingerprint\nsmtp_tls_fingerprint_cert_match = ${fingerprint('sha256', 'cert')}`,
    dns.port,
  );
  const [b] = await md5.agent.deliver(makeRequest(`other.test:${tlsPeer.port}`, ['a@other.test']));
  assert.deepEqual(
    { s: b?.status, d: b?.dsn, r: b?.reason },
    { s: 'deferred', d: '4.7.5', r: 'Server certificate not verified' },
  );
});

test('fingerprint in smtp_tls_policy_maps: match= with | separated digests, public-key digests, bad digest name', async () => {
  const hop = `[127.0.0.1]:${tlsPeer.port}`;
  const policy = (value: string, cf = '') => {
    const agent = new SmtpAgent({
      config: Config.fromText(`myhostname = client.test\nsmtp_tls_policy_maps = test:policy\n${cf}`),
      log: new MemoryLogger(),
      ownAddresses: new Set(),
      openDict: (spec) =>
        Promise.resolve({
          spec,
          lookup: (key: string) => Promise.resolve(key === hop ? value : undefined),
          close: () => Promise.resolve(),
        }),
    });
    return agent;
  };
  const good = policy(`fingerprint match=00:11|${fingerprint('md5', 'pkey').toLowerCase()}`);
  const [a] = await good.deliver(makeRequest(hop, ['a@d.test']));
  await good.close();
  assert.equal(a?.status, 'sent');
  const bad = policy('fingerprint match=00:11:22', 'smtp_tls_fingerprint_digest = sha257');
  const [b] = await bad.deliver(makeRequest(hop, ['a@d.test']));
  assert.deepEqual(
    { s: b?.status, d: b?.dsn, r: b?.reason },
    { s: 'deferred', d: '4.7.5', r: 'smtp_tls_fingerprint_digest: unsupported digest "sha257"' },
  );
});

test('dane-only: without validated TLSA records the mail waits; with them it goes', async () => {
  const cf = 'smtp_dns_support_level = dnssec\nsmtp_tls_security_level = dane-only';
  const insecure = makeAgent(cf, dns.port);
  const [a] = await insecure.agent.deliver(makeRequest(`tls.test:${tlsPeer.port}`, ['a@tls.test']));
  assert.deepEqual(
    { s: a?.status, d: a?.dsn, r: a?.reason },
    { s: 'deferred', d: '4.7.5', r: `No usable DANE TLSA records for mx.tls.test[127.0.0.1]:${tlsPeer.port}` },
  );
  const good = makeAgent(cf, dns.port);
  const [b] = await good.agent.deliver(makeRequest(`dane.test:${tlsPeer.port}`, ['a@dane.test']));
  await good.agent.close();
  assert.equal(b?.status, 'sent');
  assert.equal((await tlsPeer.records()).filter((r) => r.data).at(-1)?.tls, true);
});

test('protocol settings: smtp_tls_protocols for may, the mandatory ones for encrypt, policy protocols=, bad values defer', async () => {
  const hop = `[127.0.0.1]:${tlsPeer.port}`;
  const established = async (cf: string, policyValue?: string): Promise<string> => {
    const log = new MemoryLogger();
    const agent = new SmtpAgent({
      config: Config.fromText(`myhostname = client.test\nsmtp_tls_policy_maps = test:p\n${cf}`),
      log,
      ownAddresses: new Set(),
      openDict: (spec) =>
        Promise.resolve({
          spec,
          lookup: () => Promise.resolve(policyValue),
          close: () => Promise.resolve(),
        }),
    });
    const [o] = await agent.deliver(makeRequest(hop, ['a@d.test']));
    await agent.close();
    assert.equal(o?.status, 'sent', o?.reason);
    return (
      /: (TLSv1\.\d) with cipher/.exec(log.texts().find((t) => t.includes('TLS connection established')) ?? '')?.[1] ??
      ''
    );
  };
  const mandatory12 = 'smtp_tls_mandatory_protocols = TLSv1.2';
  assert.equal(await established(`smtp_tls_security_level = may\nsmtp_tls_protocols = <=TLSv1.2`), 'TLSv1.2');
  assert.equal(await established(`smtp_tls_security_level = may\n${mandatory12}`), 'TLSv1.3');
  assert.equal(await established(`smtp_tls_security_level = encrypt\n${mandatory12}`), 'TLSv1.2');
  assert.equal(await established('smtp_tls_security_level = may', 'encrypt protocols=!TLSv1.3'), 'TLSv1.2');
  const bad = makeAgent('smtp_tls_security_level = encrypt\nsmtp_tls_mandatory_protocols = >=TLSv9');
  const [o] = await bad.agent.deliver(makeRequest(hop, ['a@d.test']));
  assert.deepEqual(
    { s: o?.status, d: o?.dsn, r: o?.reason },
    {
      s: 'deferred',
      d: '4.7.5',
      r: 'TLS configuration error: smtp_tls_mandatory_protocols: unknown TLS protocol "TLSv9"',
    },
  );
});
