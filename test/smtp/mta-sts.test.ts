// MTA-STS (RFC 8461) on loopback: a fake DNS server publishes MX, A, TXT
// (and for one domain DNSSEC-signed TLSA) records, an HTTPS server with a
// CA made by openssl serves the policies, and a STARTTLS peer receives the
// mail. The resolver is pointed at the HTTPS server's port through its
// test-only `connectTo` option; certificates are checked for real.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FakeDns } from '../dns/fake-dns-server.js';
import { SmtpAgent } from '../../src/daemons/smtp/agent.js';
import { MtaSts, mxMatches, parsePolicy, parseTxt } from '../../src/daemons/smtp/mta-sts.js';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { DnsClient } from '../../src/global/dns/client.js';
import { DnsResolver } from '../../src/global/dns/lookup.js';
import { makeRequest, startPeer, tempDir, type Peer } from './harness.js';

let dir = '';
let peer: Peer;
let dns: FakeDns;
let https: Server;
const fetches = new Map<string, number>();

const POLICIES: Record<string, string> = {
  'mta-sts.sts.test': 'version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 86400\n',
  'mta-sts.badmx.test': 'version: STSv1\r\nmode: enforce\r\nmx: *.elsewhere.test\r\nmax_age: 86400\r\n',
  'mta-sts.testing.test': 'version: STSv1\nmode: testing\nmx: mx.testing.test\nmax_age: 600\n',
  'mta-sts.danests.test': 'version: STSv1\nmode: enforce\nmx: *.nowhere.test\nmax_age: 600\n',
};

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
    '/CN=STS Test CA',
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
    '/CN=mx.sts.test',
  ]);
  const names = ['mx.sts.test', 'mx.badmx.test', 'mx.danests.test', ...Object.keys(POLICIES), 'mta-sts.redirect.test'];
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
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
  https = createServer(
    { cert: readFileSync(join(dir, 'srv.pem')), key: readFileSync(join(dir, 'srv.key')) },
    (q, r) => {
      const host = (q.headers.host ?? '').toLowerCase();
      fetches.set(host, (fetches.get(host) ?? 0) + 1);
      const body = POLICIES[host];
      if (q.url !== '/.well-known/mta-sts.txt' || body === undefined) {
        r.writeHead(301, { location: 'https://elsewhere.test/' }).end();
        return;
      }
      r.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    },
  );
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  peer = await startPeer({ cert: join(dir, 'srv.pem'), key: join(dir, 'srv.key') });
  const spki = new X509Certificate(readFileSync(join(dir, 'srv.pem'))).publicKey.export({
    type: 'spki',
    format: 'der',
  });
  const domains = ['sts.test', 'badmx.test', 'testing.test', 'redirect.test', 'danests.test'];
  dns = new FakeDns({
    authentic: ['danests.test', 'mx.danests.test', `_${peer.port}._tcp.mx.danests.test`],
    records: [
      ...domains.flatMap((d) => [
        { name: d, type: 'MX' as const, data: { preference: 10, exchange: `mx.${d}` } },
        { name: `mx.${d}`, type: 'A' as const, data: '127.0.0.1' },
        { name: `_mta-sts.${d}`, type: 'TXT' as const, data: ['v=STSv1; id=20261126;'] },
      ]),
      {
        name: `_${peer.port}._tcp.mx.danests.test`,
        type: 'TLSA',
        data: { usage: 3, selector: 1, matchingType: 1, certificate: createHash('sha256').update(spki).digest() },
      },
    ],
  });
  await dns.start();
});

after(async () => {
  peer.stop();
  https.close();
  await dns.stop();
});

function stsAgent(mainCf: string): { agent: SmtpAgent; log: MemoryLogger } {
  const log = new MemoryLogger('postfix/smtp');
  const resolver = new DnsResolver(
    new DnsClient({ servers: [{ host: '127.0.0.1', port: dns.port }], timeoutMs: 1000, attempts: 2 }),
  );
  const port = (https.address() as AddressInfo).port;
  const mtaSts = new MtaSts({
    resolver,
    log: (t) => log.warning(t),
    ca: readFileSync(join(dir, 'ca.pem')),
    connectTo: { host: '127.0.0.1', port },
    timeoutMs: 10000,
  });
  const config = Config.fromText(
    `myhostname = client.test\ninet_interfaces = 127.0.0.250\nsmtp_tls_policy_maps = mta-sts:\n${mainCf}`,
  );
  return { agent: new SmtpAgent({ config, log, resolver, mtaSts, ownAddresses: new Set() }), log };
}

const CA = (): string => `smtp_tls_CAfile = ${join(dir, 'ca.pem')}`;

test('enforce: verified TLS to a listed MX; the policy is fetched once and cached', async () => {
  const { agent, log } = stsAgent(CA());
  for (let i = 0; i < 2; i++) {
    const [o] = await agent.deliver(makeRequest(`sts.test:${peer.port}`, ['a@sts.test']));
    assert.equal(o?.status, 'sent', o?.reason);
  }
  await agent.close();
  assert.equal(fetches.get('mta-sts.sts.test'), 1);
  assert.ok(log.texts().some((t) => t.startsWith(`Verified TLS connection established to mx.sts.test[127.0.0.1]`)));
});

test('enforce: an untrusted certificate or an MX outside the policy defers with 4.7.5', async () => {
  const untrusted = stsAgent('');
  const [a] = await untrusted.agent.deliver(makeRequest(`sts.test:${peer.port}`, ['a@sts.test']));
  assert.deepEqual(
    { s: a?.status, d: a?.dsn, r: a?.reason },
    { s: 'deferred', d: '4.7.5', r: 'Server certificate not trusted' },
  );
  const badMx = stsAgent(CA());
  const [b] = await badMx.agent.deliver(makeRequest(`badmx.test:${peer.port}`, ['a@badmx.test']));
  assert.deepEqual(
    { s: b?.status, d: b?.dsn, r: b?.reason },
    { s: 'deferred', d: '4.7.5', r: 'MX host mx.badmx.test does not match the MTA-STS policy of badmx.test' },
  );
});

test('testing: delivered as the base level says, with what enforce would refuse logged', async () => {
  const { agent, log } = stsAgent('smtp_tls_security_level = may');
  const [o] = await agent.deliver(makeRequest(`testing.test:${peer.port}`, ['a@testing.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  assert.ok(
    log
      .texts()
      .some(
        (t) =>
          t ===
          `MTA-STS testing mode: testing.test: certificate of mx.testing.test[127.0.0.1]:${peer.port} not verified`,
      ),
    log.texts().join('\n'),
  );
});

test('a policy behind a redirect is refused and the base level applies', async () => {
  const { agent, log } = stsAgent('smtp_tls_security_level = may');
  const [o] = await agent.deliver(makeRequest(`redirect.test:${peer.port}`, ['a@redirect.test']));
  await agent.close();
  assert.equal(o?.status, 'sent');
  assert.ok(
    log
      .texts()
      .includes('warning: MTA-STS policy fetch for redirect.test failed: HTTP status 301 from mta-sts.redirect.test'),
  );
});

test('DANE takes precedence over MTA-STS where the MX has validated TLSA records', async () => {
  // The STS policy lists no matching MX and the test CA is not trusted: only DANE can make this work.
  const { agent, log } = stsAgent('smtp_dns_support_level = dnssec\nsmtp_tls_security_level = dane');
  const [o] = await agent.deliver(makeRequest(`danests.test:${peer.port}`, ['a@danests.test']));
  await agent.close();
  assert.equal(o?.status, 'sent', o?.reason);
  assert.ok(log.texts().some((t) => t.startsWith('Verified TLS connection established to mx.danests.test')));
});

test('policy, TXT and MX pattern parsing', () => {
  assert.deepEqual(
    parsePolicy('version: STSv1\nmode: enforce\nmx: MX1.Example.com.\nmx: *.example.net\nmax_age: 9999999999\n'),
    {
      mode: 'enforce',
      mx: ['mx1.example.com', '*.example.net'],
      maxAge: 31557600,
    },
  );
  for (const bad of [
    'mode: enforce\nmx: a\nmax_age: 1',
    'version: STSv1\nmode: enforce\nmax_age: 1',
    'version: STSv1\nmode: sometimes\nmx: a\nmax_age: 1',
    'version: STSv1\nmode: none\nmax_age: -1',
  ]) {
    assert.throws(() => parsePolicy(bad), /STS|mode|mx|max_age|version/);
  }
  assert.equal(parseTxt(['v=STSv1; id=abc123;']), 'abc123');
  assert.equal(parseTxt(['v=STSv1; id=abc123;', 'v=STSv1; id=def;']), undefined);
  assert.equal(parseTxt(['v=spf1 -all']), undefined);
  assert.equal(mxMatches('mx1.example.net', ['*.example.net']), true);
  assert.equal(mxMatches('a.mx1.example.net', ['*.example.net']), false);
  assert.equal(mxMatches('example.net', ['*.example.net']), false);
});
