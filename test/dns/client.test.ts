// The DNS wire client and lookup classification against a fake server on
// loopback: records, NXDOMAIN, NODATA, SERVFAIL, silence (timeout), TCP
// fallback on truncation and the DNSSEC AD bit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DnsClient } from '../../src/global/dns/client.js';
import { DnsResolver, nameServiceError } from '../../src/global/dns/lookup.js';
import { parseResolvConf } from '../../src/global/dns/resolv-conf.js';
import { FakeDns } from './fake-dns-server.js';

const dns = new FakeDns({
  records: [
    { name: 'example.test', type: 'MX', data: { preference: 10, exchange: 'mx.example.test' } },
    { name: 'mx.example.test', type: 'A', data: '127.0.0.2' },
    { name: 'big.test', type: 'A', data: '127.0.0.3' },
    { name: 'signed.test', type: 'A', data: '127.0.0.4' },
    { name: 'old.test', type: 'A', data: '127.0.0.5' },
  ],
  noEdns: ['old.test'],
  servfail: ['broken.test'],
  silent: ['slow.test'],
  truncate: ['big.test'],
  authentic: ['signed.test'],
});
let resolver: DnsResolver;

before(async () => {
  await dns.start();
  resolver = new DnsResolver(
    new DnsClient({ servers: [{ host: '127.0.0.1', port: dns.port }], timeoutMs: 300, attempts: 1 }),
  );
});
after(() => dns.stop());

test('MX and A records come back typed', async () => {
  const mx = await resolver.mx('example.test');
  assert.equal(mx.kind, 'ok');
  assert.deepEqual(mx.kind === 'ok' && mx.records, [{ preference: 10, exchange: 'mx.example.test' }]);
  const a = await resolver.addresses('mx.example.test', 'A');
  assert.deepEqual(a.kind === 'ok' && a.records, ['127.0.0.2']);
});

test('NXDOMAIN, NODATA, SERVFAIL and silence are told apart with Postfix wording', async () => {
  const nx = await resolver.mx('nosuch.test');
  assert.equal(nx.kind, 'nxdomain');
  assert.equal(
    nameServiceError('nosuch.test', 'MX', nx as { text: string }),
    'Name service error for name=nosuch.test type=MX: Host not found',
  );
  assert.equal((await resolver.addresses('example.test', 'AAAA')).kind, 'nodata');
  const sf = await resolver.mx('broken.test');
  assert.deepEqual(sf, { kind: 'tempfail', text: 'Host not found, try again' });
  assert.equal((await resolver.mx('slow.test')).kind, 'tempfail');
});

test('a truncated UDP answer is asked again over TCP', async () => {
  const a = await resolver.addresses('big.test', 'A');
  assert.deepEqual(a.kind === 'ok' && a.records, ['127.0.0.3']);
  assert.ok(dns.queries.some((q) => q.name === 'big.test' && q.tcp));
});

test('the AD bit is reported as authentic', async () => {
  const a = await resolver.addresses('signed.test', 'A', true);
  assert.equal(a.kind === 'ok' && a.authentic, true);
  const b = await resolver.addresses('mx.example.test', 'A', true);
  assert.equal(b.kind === 'ok' && b.authentic, false);
});

test('resolv.conf: nameservers, options and limits', () => {
  const s = parseResolvConf(
    '# c\nnameserver 192.0.2.1\nnameserver ::1\nnameserver bogus\noptions timeout:2 attempts:3 rotate\n',
  );
  assert.deepEqual(s.servers, [
    { host: '192.0.2.1', port: 53 },
    { host: '::1', port: 53 },
  ]);
  assert.equal(s.timeoutMs, 2000);
  assert.equal(s.attempts, 3);
  assert.deepEqual(parseResolvConf('').servers, [{ host: '127.0.0.1', port: 53 }]);
});

test('FORMERR to an EDNS query: asked again without EDNS', async () => {
  const a = await resolver.addresses('old.test', 'A');
  assert.deepEqual(a.kind === 'ok' && a.records, ['127.0.0.5']);
  assert.equal(dns.queries.filter((q) => q.name === 'old.test').length, 2);
});

test('duplicated and stray datagrams are ignored', async () => {
  const { createSocket } = await import('node:dgram');
  const packet = await import('dns-packet');
  const srv = createSocket('udp4');
  await new Promise<void>((r) => srv.bind(0, '127.0.0.1', r));
  srv.on('message', (msg, rinfo) => {
    const q = packet.decode(msg);
    const answer = packet.encode({
      type: 'response',
      id: q.id,
      flags: packet.RECURSION_AVAILABLE,
      questions: q.questions,
      answers: [{ type: 'A', name: 'dup.test', ttl: 5, data: '127.0.0.9' }],
    });
    const wrongId = packet.encode({ type: 'response', id: ((q.id ?? 0) + 1) % 65536, questions: q.questions });
    srv.send(wrongId, rinfo.port, rinfo.address);
    for (let i = 0; i < 3; i++) srv.send(answer, rinfo.port, rinfo.address);
  });
  const port = srv.address().port;
  const r = new DnsResolver(new DnsClient({ servers: [{ host: '127.0.0.1', port }], timeoutMs: 500, attempts: 1 }));
  const a = await r.addresses('dup.test', 'A');
  assert.deepEqual(a.kind === 'ok' && a.records, ['127.0.0.9']);
  // Give the duplicates time to arrive at the closed socket.
  await new Promise((res) => setTimeout(res, 100));
  srv.close();
});
