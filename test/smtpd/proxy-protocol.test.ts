// HAProxy PROXY protocol (smtpd_upstream_proxy_protocol = haproxy): the v1
// and v2 header parser against the cases Postfix's haproxy_srvr accepts and
// refuses, and real sessions where the header's client address drives the
// log, Received:, restrictions and the policy facts; a malformed or missing
// header is logged and the connection dropped without a greeting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inetFamilies, parseProxyHeader } from '../../src/daemons/smtpd/proxy-protocol.js';
import { content, eventually, fakeResolver, RawClient, startSmtpd } from './harness.js';

const both = inetFamilies(['all']);
const v4only = inetFamilies(['ipv4']);

function v1(line: string, families = both): string | (string | number)[] {
  const h = parseProxyHeader(Buffer.from(line, 'latin1'), families);
  if (h.status === 'ok' && h.proxied) return [h.client.addr, h.server.addr, h.client.port, h.server.port, h.length];
  return h.status === 'error' ? h.reason : h.status;
}

test('v1 headers: accepted forms are normalised, bad ones get haproxy_srvr texts', () => {
  const ok = 'PROXY TCP6 fc:00:00:00:1:2:3:4 fc:00:00:00:4:3:2:1 123 321\r\n';
  assert.deepEqual(v1(ok), ['fc::1:2:3:4', 'fc::4:3:2:1', 123, 321, ok.length]);
  assert.deepEqual(v1('PROXY TCP6 FC:00:00:00:1:2:3:4 FC:00:00:00:4:3:2:1 123 321\n').slice(0, 2), [
    'fc::1:2:3:4',
    'fc::4:3:2:1',
  ]);
  assert.deepEqual(v1('PROXY TCP6 ::ffff:1.2.3.4 ::FFFF:4.3.2.1 123 321\n').slice(0, 2), ['1.2.3.4', '4.3.2.1']);
  assert.deepEqual(v1('PROXY TCP4 01.02.03.04 04.03.02.01 123 321\r\nEHLO x\r\n').slice(0, 5), [
    '1.2.3.4',
    '4.3.2.1',
    123,
    321,
    44,
  ]);
  const bad: [string, string][] = [
    ['PROXY TCP6 1.2.3.4 4.3.2.1 123 321\n', 'bad or missing client address'],
    ['PROXY TCP6 fc::1 4.3.2.1 123 321\n', 'bad or missing server address'],
    ['PROXY TCP4 ::ffff:1.2.3.4 ::ffff:4.3.2.1 123 321\n', 'bad or missing client address'],
    ['PROXY TCP4 1.2.3.4 4.3.2.1 123456 321\n', 'bad or missing client port'],
    ['PROXY TCP4 1.2.3.4 4.3.2.1 123 0321\n', 'bad or missing server port'],
    ['PROXY TCP4 1.2.3.4 4.3.2.1\n', 'bad or missing client port'],
    ['PROXY TCP4\n', 'bad or missing client address'],
    ['PROXY UNKNOWN\r\n', 'bad or missing protocol type'],
    ['PROXY BLAH\n', 'bad or missing protocol type'],
    ['PROXY\n', 'short protocol header'],
    ['EHLO x\r\n', 'short protocol header'],
    ['GET / HTTP/1.1\r\nHost: x\r\n', 'unrecognized protocol header'],
    [`PROXY TCP4 ${'1'.repeat(120)}`, 'missing protocol header terminator'],
  ];
  for (const [line, reason] of bad) assert.equal(v1(line), reason, line);
  assert.equal(v1('PROXY TCP6 fc::1 fc::2 1 2\n', v4only), 'bad or missing protocol type');
  assert.equal(v1('PROXY TCP4 1.2.3.4 4.3.2.'), 'more');
  assert.equal(v1('PROX'), 'more');
});

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v2(cmd: number, fam: number, addrs: Buffer, tlv = Buffer.alloc(0)): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(addrs.length + tlv.length);
  return Buffer.concat([SIG, Buffer.from([0x20 | cmd, fam]), len, addrs, tlv]);
}

function ports(a: number, b: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt16BE(a, 0);
  p.writeUInt16BE(b, 2);
  return p;
}

const TCP4 = v2(1, 0x11, Buffer.concat([Buffer.from([192, 0, 2, 10, 198, 51, 100, 1]), ports(40000, 25)]));

test('v2 headers: TCP4, TCP6 (mapped addresses folded), LOCAL, TLVs skipped, errors', () => {
  const a = parseProxyHeader(Buffer.concat([TCP4, Buffer.from('EHLO')]), both);
  assert.deepEqual(a, {
    status: 'ok',
    length: 28,
    proxied: true,
    client: { addr: '192.0.2.10', port: 40000 },
    server: { addr: '198.51.100.1', port: 25 },
  });
  const six = Buffer.alloc(32);
  six.writeUInt16BE(0x2001, 0);
  six.writeUInt16BE(0x0db8, 2);
  six[15] = 5;
  six.writeUInt16BE(0xffff, 26);
  six.set([203, 0, 113, 7], 28);
  const b = parseProxyHeader(v2(1, 0x21, Buffer.concat([six, ports(1, 2)]), Buffer.from([3, 0, 1, 9])), both);
  assert.equal(
    b.status === 'ok' && b.proxied && `${b.client.addr} ${b.server.addr} ${b.length}`,
    '2001:db8::5 203.0.113.7 56',
  );
  assert.deepEqual(parseProxyHeader(v2(0, 0, Buffer.alloc(0)), both), { status: 'ok', length: 16, proxied: false });
  const reason = (buf: Buffer, f = both): string => {
    const h = parseProxyHeader(buf, f);
    return h.status === 'error' ? h.reason : h.status;
  };
  assert.equal(reason(TCP4.subarray(0, 20)), 'more');
  assert.equal(reason(v2(2, 0x11, Buffer.alloc(12))), 'bad command in proxy header');
  assert.equal(reason(v2(1, 0x12, Buffer.alloc(12))), 'unsupported network protocol');
  assert.equal(reason(v2(1, 0x11, Buffer.alloc(8))), 'short address field');
  assert.equal(reason(v2(1, 0x21, Buffer.alloc(36)), v4only), 'Postfix IPv6 support is disabled');
  const v1ver = Buffer.from(TCP4);
  v1ver[12] = 0x11;
  assert.equal(reason(v1ver), 'unrecognized protocol version');
  assert.equal(reason(v2(1, 0x11, Buffer.alloc(600))), 'short version 2 protocol header');
});

const PROXIED = [
  'smtpd_upstream_proxy_protocol = haproxy',
  'smtpd_upstream_proxy_timeout = 1s',
  'smtpd_client_port_logging = yes',
].join('\n');
const resolver = fakeResolver(
  { '192.0.2.10': ['relay.example'], '127.0.0.1': ['localhost'] },
  { 'relay.example': ['192.0.2.10'], localhost: ['127.0.0.1'] },
);

test('a v1 header: the real client drives the log, restrictions, policy facts and Received:', async () => {
  const h = await startSmtpd(PROXIED, { resolver });
  try {
    const c = await RawClient.connect(h.port);
    c.send('PROXY TCP4 192.0.2.10 198.51.100.1 40000 2525\r\n');
    assert.equal(await c.reply(), '220 mx.example.test ESMTP Postern');
    await c.cmd('EHLO client.example');
    await c.cmd('MAIL FROM:<a@b.example>');
    await c.cmd('RCPT TO:<c@d.example>');
    await c.cmd('DATA');
    assert.match(await c.cmd('Subject: x\r\n\r\nbody\r\n.'), /^250 /);
    await c.cmd('QUIT');
  } finally {
    await h.close();
  }
  const logs = h.logs();
  assert.equal(logs[0], 'connect from relay.example[192.0.2.10]:40000');
  const facts = h.policy.calls.at(-1)?.facts;
  assert.deepEqual(
    [facts?.clientAddr, facts?.clientName, facts?.clientPort, facts?.serverAddr, facts?.serverPort],
    ['192.0.2.10', 'relay.example', 40000, '198.51.100.1', 2525],
  );
  const [m] = h.cleanup.committed();
  assert.equal(m?.req.client?.addr, '192.0.2.10');
  assert.match(m ? content(m) : '', /^Received: from client\.example \(relay\.example \[192\.0\.2\.10\]\)\r\n/);
});

test('a v2 header, and a v2 LOCAL health check that keeps the proxy as the client', async () => {
  const h = await startSmtpd(PROXIED, { resolver });
  try {
    const c = await RawClient.connect(h.port);
    c.send(TCP4);
    assert.equal(await c.reply(), '220 mx.example.test ESMTP Postern');
    assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
    const local = await RawClient.connect(h.port);
    local.send(v2(0, 0, Buffer.alloc(0)));
    assert.equal(await local.reply(), '220 mx.example.test ESMTP Postern');
    await local.cmd('QUIT');
  } finally {
    await h.close();
  }
  const connects = h.logs().filter((l) => l.startsWith('connect from'));
  assert.equal(connects[0], 'connect from relay.example[192.0.2.10]:40000');
  assert.match(connects[1] ?? '', /^connect from localhost\[127\.0\.0\.1\]:\d+$/);
});

test('a malformed or missing header: warning, no greeting, connection dropped', async () => {
  const h = await startSmtpd(PROXIED, { resolver });
  try {
    const bad = await RawClient.connect(h.port);
    bad.send('PROXY TCP4 192.0.2.10 nonsense 1 2\r\n');
    assert.equal(await bad.reply(), '');
    const silent = await RawClient.connect(h.port);
    // An ordinary SMTP client waits for a greeting that never comes: timeout after 1s.
    assert.equal(await silent.reply(8000), '');
  } finally {
    await h.close();
  }
  const logs = h.logs();
  assert.ok(
    logs.includes('warning: haproxy read: bad or missing server address: PROXY TCP4 192.0.2.10 nonsense 1 2\\r\\n'),
    logs.join('\n'),
  );
  assert.ok(logs.includes('warning: haproxy read: timeout error'));
  assert.ok(
    await eventually(
      () => h.logs().filter((l) => /^disconnect from localhost\[127\.0\.0\.1\]:\d+ commands=0$/.test(l)).length === 2,
    ),
    h.logs().join('\n'),
  );
});
