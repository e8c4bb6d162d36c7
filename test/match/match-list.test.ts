// Match lists: CIDR (IPv4, IPv6, [..] forms), domains with parent matching,
// negation, files and tables; errors name the parameter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MatchList, MatchListError } from '../../src/global/match/match-list.js';
import { CidrError, formatIp, parseIp, parseNetwork } from '../../src/global/match/ip.js';
import { mynetworksForStyle } from '../../src/global/match/mynetworks.js';
import { MapDict } from '../restrictions/harness.js';

const opts = (paramName: string, parent = true) => ({ paramName, parentMatchesSubdomains: parent });

test('mynetworks-style address lists', async () => {
  const l = await MatchList.create(
    '127.0.0.0/8, [::1]/128 192.0.2.0/24 !198.51.100.7 198.51.100.0/24 [2001:db8::]/32',
    opts('mynetworks'),
  );
  for (const a of [
    '127.0.0.1',
    '127.255.1.2',
    '::1',
    '192.0.2.200',
    '198.51.100.8',
    '2001:db8:ffff::1',
    '::ffff:192.0.2.5',
  ]) {
    assert.ok(await l.matchAddr(a), a);
  }
  for (const a of ['128.0.0.1', '::2', '192.0.3.1', '198.51.100.7', '2001:db9::1', 'garbage']) {
    assert.ok(!(await l.matchAddr(a)), a);
  }
});

test('bare IPv6 host and network patterns', async () => {
  const l = await MatchList.create('::1 fe80::/10', opts('mynetworks'));
  assert.ok(await l.matchAddr('::1'));
  assert.ok(await l.matchAddr('fe80::1234'));
  assert.ok(!(await l.matchAddr('fec0::1')));
});

test('networks with host bits set are refused, as Postfix does', async () => {
  await assert.rejects(MatchList.create('192.0.2.1/24', opts('mynetworks')), (e: Error) => {
    assert.ok(e instanceof MatchListError);
    assert.match(
      e.message,
      /^mynetworks: non-null host address bits in "192.0.2.1\/24", perhaps you should use "192.0.2.0\/24" instead$/,
    );
    return true;
  });
  assert.throws(() => parseNetwork('10.0.0.0/33'), CidrError);
  assert.throws(() => parseNetwork('[2001:db8::1]/32'), /perhaps you should use "\[2001:db8::\]\/32"/);
});

test('IP parsing and formatting', () => {
  assert.equal(formatIp(parseIp('2001:0db8:0000:0000:0000:0000:0000:0001') ?? assert.fail()), '2001:db8::1');
  assert.equal(formatIp(parseIp('[::ffff:10.1.2.3]') ?? assert.fail()), '10.1.2.3');
  assert.equal(formatIp(parseIp('1:0:0:2:0:0:0:3') ?? assert.fail()), '1:0:0:2::3');
  assert.equal(parseIp('1.2.3'), undefined);
  assert.equal(parseIp('example.com'), undefined);
});

test('domain lists: parent matching depends on parent_domain_matches_subdomains', async () => {
  const parent = await MatchList.create('example.com, .dot.example', opts('relay_domains', true));
  assert.ok(await parent.matchHost('example.com'));
  assert.ok(await parent.matchHost('Sub.Example.COM.'));
  assert.ok(!(await parent.matchHost('badexample.com')));
  assert.ok(await parent.matchHost('a.dot.example'));
  assert.ok(!(await parent.matchHost('dot.example')));
  const exact = await MatchList.create('example.com', opts('mydestination', false));
  assert.ok(await exact.matchHost('example.com'));
  assert.ok(!(await exact.matchHost('sub.example.com')));
});

test('negation: the first matching pattern decides', async () => {
  const l = await MatchList.create('!secret.example.com example.com', opts('relay_domains'));
  assert.ok(!(await l.matchHost('secret.example.com')));
  assert.ok(!(await l.matchHost('x.secret.example.com')));
  assert.ok(await l.matchHost('www.example.com'));
});

test('file entries, with comments and nested negation', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-match-'));
  try {
    const file = join(dir, 'domains');
    await writeFile(file, '# our domains\na.example b.example # trailing\n\n!c.example\n');
    const l = await MatchList.create(`!${file} d.example c.example`, opts('relay_domains', false));
    assert.ok(!(await l.matchHost('a.example')));
    assert.ok(await l.matchHost('c.example'), 'a negated file negates its !c.example back to a match');
    assert.ok(await l.matchHost('d.example'));
    await assert.rejects(
      MatchList.create(join(dir, 'missing'), opts('relay_domains')),
      /relay_domains: open .*missing/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('type:table entries look up the domain and its parents, or the address', async () => {
  const dict = new MapDict('hash:/etc/postfix/relay').set('example.org', 'x').set('192.0.2.9', 'ok');
  const l = await MatchList.create('hash:/etc/postfix/relay', {
    ...opts('relay_domains', true),
    openDict: () => Promise.resolve(dict),
  });
  assert.ok(await l.matchHost('mail.example.org'));
  assert.deepEqual(dict.lookups, ['mail.example.org', 'example.org']);
  assert.ok(!(await l.matchHost('example.net')));
  assert.ok(await l.matchAddr('192.0.2.9'));
  await assert.rejects(MatchList.create('hash:/x', opts('mydestination')), /table hash:\/x not supported here/);
});

test('mynetworks_style: host, subnet and class', () => {
  const ifs = [
    { address: '127.0.0.1', prefix: 8 },
    { address: '10.1.2.3', prefix: 16 },
    { address: '172.20.5.6', prefix: 24 },
    { address: '192.168.7.8', prefix: 24 },
    { address: 'fe80::1:2', prefix: 64 },
  ];
  assert.equal(
    mynetworksForStyle('host', ifs),
    '127.0.0.1/32 10.1.2.3/32 172.20.5.6/32 192.168.7.8/32 [fe80::1:2]/128',
  );
  assert.equal(mynetworksForStyle('subnet', ifs), '127.0.0.0/8 10.1.0.0/16 172.20.5.0/24 192.168.7.0/24 [fe80::]/64');
  assert.equal(mynetworksForStyle('class', ifs), '127.0.0.0/8 10.0.0.0/8 172.20.0.0/16 192.168.7.0/24 [fe80::]/64');
});

test('a braced table with spaces inside stays one entry (virtual_mailbox_domains = inline:{ a=b, c=d })', async () => {
  const { openDict } = await import('../../src/global/dict/open.js');
  const l = await MatchList.create('example.net, inline:{ a.example=x, b.example=y } other.example', {
    ...opts('virtual_mailbox_domains', false),
    openDict: (spec: string) => openDict(spec),
  });
  for (const d of ['example.net', 'a.example', 'b.example', 'other.example']) assert.ok(await l.matchHost(d), d);
  assert.ok(!(await l.matchHost('c.example')));
});

test('a list without tables remembers only the answer to the same question', async () => {
  const l = await MatchList.create('127.0.0.0/8 example.com !10.0.0.1 10.0.0.0/8', opts('debug_peer_list'));
  // Alternate between questions whose answers differ: a stale answer would show.
  for (let i = 0; i < 3; i++) {
    assert.equal(await l.matchAddr('127.0.0.1'), true);
    assert.equal(await l.matchAddr('10.0.0.1'), false);
    assert.equal(await l.matchAddr('10.0.0.1'), false);
    assert.equal(await l.matchAddr('10.0.0.2'), true);
    assert.equal(await l.matchHost('mail.example.com.'), true);
    assert.equal(await l.matchHost('example.org'), false);
    assert.equal(await l.matchNameAddr('example.org', '127.0.0.2'), true);
    assert.equal(await l.matchNameAddr('example.org', '192.0.2.1'), false);
    assert.equal(await l.matchNameAddr('EXAMPLE.COM', '192.0.2.1'), true);
  }
});
