// Pure pieces of the smtp client: next-hop syntax, reply parsing, the DATA
// wire form (dot-stuffing, line folding) and the 8bit→quoted-printable
// downgrade, including nested multiparts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNexthop, NexthopError } from '../../src/daemons/smtp/nexthop.js';
import { parseReply } from '../../src/daemons/smtp/connection.js';
import { DataEncoder } from '../../src/daemons/smtp/content.js';
import { convertTo7bit, encodeQuotedPrintable } from '../../src/daemons/smtp/mime-convert.js';
import { parsePolicy } from '../../src/daemons/smtp/tls-policy.js';
import { readSettings } from '../../src/daemons/smtp/settings.js';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { SmtpAgent } from '../../src/daemons/smtp/agent.js';
import type { Resolver } from '../../src/global/dns/lookup.js';
import { makeRequest } from './harness.js';
import { hostAddresses } from '../../src/daemons/smtp/resolve.js';

test('next-hop forms', () => {
  assert.deepEqual(parseNexthop('example.com', 'smtp', 25), {
    kind: 'inet',
    host: 'example.com',
    port: 25,
    mx: true,
    literal: false,
  });
  assert.deepEqual(parseNexthop('example.com:2525', 'smtp', 25), {
    kind: 'inet',
    host: 'example.com',
    port: 2525,
    mx: true,
    literal: false,
  });
  assert.deepEqual(parseNexthop('[relay.example]', 'smtp', 25), {
    kind: 'inet',
    host: 'relay.example',
    port: 25,
    mx: false,
    literal: false,
  });
  assert.deepEqual(parseNexthop('[relay.example]:submission', 'smtp', 25), {
    kind: 'inet',
    host: 'relay.example',
    port: 587,
    mx: false,
    literal: false,
  });
  assert.deepEqual(parseNexthop('[192.0.2.1]', 'smtp', 25), {
    kind: 'inet',
    host: '192.0.2.1',
    port: 25,
    mx: false,
    literal: true,
  });
  assert.deepEqual(parseNexthop('[ipv6:2001:db8::1]:26', 'smtp', 25), {
    kind: 'inet',
    host: '2001:db8::1',
    port: 26,
    mx: false,
    literal: true,
  });
  assert.deepEqual(parseNexthop('[2001:db8::1]', 'smtp', 25), {
    kind: 'inet',
    host: '2001:db8::1',
    port: 25,
    mx: false,
    literal: true,
  });
  assert.deepEqual(parseNexthop('unix:/run/lmtp', 'lmtp', 24), { kind: 'unix', path: '/run/lmtp' });
  assert.deepEqual(parseNexthop('inet:mail.example:24', 'lmtp', 24), {
    kind: 'inet',
    host: 'mail.example',
    port: 24,
    mx: false,
    literal: false,
  });
  for (const bad of ['[unterminated', '[x]junk', 'host:99999', 'host:nosuchservice', '', 'unix:']) {
    assert.throws(() => parseNexthop(bad, bad.startsWith('unix') ? 'lmtp' : 'smtp', 25), NexthopError, bad);
  }
});

test('reply parsing: enhanced codes, defaults and multi-line text', () => {
  assert.deepEqual(parseReply(['250 2.0.0 Ok: queued as X']), {
    code: 250,
    dsn: '2.0.0',
    lines: ['250 2.0.0 Ok: queued as X'],
    text: '250 2.0.0 Ok: queued as X',
  });
  assert.equal(parseReply(['550 User unknown']).dsn, '5.0.0');
  // A DSN whose class disagrees with the reply code is not believed.
  assert.equal(parseReply(['450 5.1.1 odd']).dsn, '4.0.0');
  const multi = parseReply(['550-5.7.1 first', '550-5.7.1 second', '550 5.7.1 third']);
  assert.equal(multi.text, '550 5.7.1 first second third');
  assert.equal(multi.dsn, '5.7.1');
});

/** The encoder fed in chunks of `step` bytes (boundaries inside CRLF and inside lines), taken now and then. */
function wire(text: string, limit: number, step = 3): string {
  const b = Buffer.from(text, 'latin1');
  const enc = new DataEncoder(limit);
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += step) {
    enc.push(b.subarray(i, i + step));
    if (i % (step * 4) === 0) out.push(enc.take());
  }
  enc.end();
  out.push(enc.take());
  return Buffer.concat(out).toString('latin1');
}

/** The rules one line at a time, as RFC 5321 and Postfix's smtp state them: the oracle for the encoder. */
function wireByLine(text: string, limit: number): string {
  // Each line ends in LF (a CR before it belongs to the line end); a last line without one is taken as it is.
  const lines = text.split('\n').map((l, i, all) => (i < all.length - 1 && l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines[lines.length - 1] === '') lines.pop();
  let out = '';
  for (const line of lines) {
    if (line.startsWith('.')) out += '.';
    if (limit > 0 && line.length > limit) {
      const pieces: string[] = [];
      for (let off = 0; off < line.length; off += limit) pieces.push(line.slice(off, off + limit));
      out += pieces.join('\r\n ');
    } else out += line;
    out += '\r\n';
  }
  return `${out}.\r\n`;
}

test('DATA wire form: dot-stuffing, long-line folding with CRLF-SPACE, final dot', () => {
  assert.equal(wire('a\r\n.b\r\n..c\r\n.\r\nlast', 998), 'a\r\n..b\r\n...c\r\n..\r\nlast\r\n.\r\n');
  assert.equal(wire(`${'x'.repeat(25)}\r\n`, 10), 'xxxxxxxxxx\r\n xxxxxxxxxx\r\n xxxxx\r\n.\r\n');
  assert.equal(wire('bare\nlf\n', 998), 'bare\r\nlf\r\n.\r\n');
  assert.equal(wire('', 998), '.\r\n');
  // Lines already in wire form pass through whole, in one chunk or many.
  const plain = 'Subject: x\r\n\r\nbody\r\n';
  assert.equal(wire(plain, 998, plain.length), `${plain}.\r\n`);
});

test('DATA wire form agrees with the line-by-line rules on random content and chunkings', () => {
  // A seeded generator: the same cases on every run.
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const atoms = ['a', 'bc', '.', '..', '\r\n', '\n', '\r', ' ', 'x'.repeat(12), '\xe9'];
  for (let i = 0; i < 500; i++) {
    let text = '';
    for (let k = rnd(40); k > 0; k--) text += atoms[rnd(atoms.length)];
    const limit = [0, 5, 10, 998][rnd(4)] as number;
    const step = 1 + rnd(text.length + 2);
    assert.equal(wire(text, limit, step), wireByLine(text, limit), JSON.stringify({ text, limit, step }));
  }
});

test('quoted-printable: 8-bit, "=", trailing blanks, soft breaks under 76 columns', () => {
  assert.equal(encodeQuotedPrintable('caf\xe9 = ok \r\ntab\t'), 'caf=E9 =3D ok=20\r\ntab=09');
  const long = encodeQuotedPrintable('\xe9'.repeat(40));
  assert.ok(long.split('\r\n').every((l) => l.length <= 76));
  assert.equal(long.replace(/=\r\n/g, ''), '=E9'.repeat(40));
});

test('8bit→7bit downgrade walks multiparts and leaves 7-bit and base64 parts alone', () => {
  const msg = [
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="BB"',
    '',
    'preamble',
    '--BB',
    'Content-Type: text/plain; charset=latin1',
    'Content-Transfer-Encoding: 8bit',
    '',
    'na\xefve',
    '--BB',
    'Content-Type: text/plain',
    '',
    'plain ascii',
    '--BB',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    'AAEC',
    '--BB--',
    'epilogue',
  ].join('\r\n');
  const out = convertTo7bit(msg);
  assert.ok(!/[\x80-\xff]/.test(out));
  assert.match(
    out,
    /Content-Type: text\/plain; charset=latin1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=EFve\r\n--BB\r\n/,
  );
  assert.match(out, /Content-Type: text\/plain\r\n\r\nplain ascii\r\n/);
  assert.match(out, /base64\r\n\r\nAAEC\r\n--BB--\r\nepilogue$/);
});

test('TLS policy table values', () => {
  const s = readSettings(Config.fromText(''), 'smtp');
  assert.deepEqual(parsePolicy('secure match=.example.com:example.com', s, 't'), {
    level: 'secure',
    match: ['.example.com', 'example.com'],
  });
  assert.deepEqual(parsePolicy('verify', s, 't'), { level: 'verify', match: ['hostname'] });
  assert.throws(() => parsePolicy('bogus', s, 'hash:/etc/postfix/tls_policy'), /invalid TLS security level "bogus"/);
});

test('lmtp reads lmtp_* parameters, including lmtp_lhlo_name', () => {
  const cfg = Config.fromText(
    'myhostname = h.test\nlmtp_lhlo_name = lhlo.test\nsmtp_helo_name = helo.test\nlmtp_mx_address_limit = 3\n',
  );
  const l = readSettings(cfg, 'lmtp');
  assert.equal(l.heloName, 'lhlo.test');
  assert.equal(l.mxAddressLimit, 3);
  assert.equal(l.defaultPort, 24);
  assert.equal(l.connectTimeout, 0);
  const s = readSettings(cfg, 'smtp');
  assert.equal(s.heloName, 'helo.test');
  assert.equal(s.defaultPort, 25);
  assert.equal(s.dnsLevel, 'enabled');
  assert.equal(readSettings(Config.fromText('disable_dns_lookups = yes'), 'smtp').dnsLevel, 'disabled');
});

test('legacy smtp_use_tls / smtp_enforce_tls count when smtp_tls_security_level is empty', () => {
  const level = (text: string): string => readSettings(Config.fromText(text), 'smtp').tlsLevel;
  assert.equal(level(''), 'none');
  assert.equal(level('smtp_use_tls = yes'), 'may');
  assert.equal(level('smtp_enforce_tls = yes'), 'verify');
  assert.equal(level('smtp_enforce_tls = yes\nsmtp_tls_enforce_peername = no'), 'encrypt');
  assert.equal(level('smtp_enforce_tls = yes\nsmtp_tls_security_level = may'), 'may');
});

test('an internal failure defers the request instead of escaping deliver()', async () => {
  const log = new MemoryLogger();
  const broken: Resolver = {
    mx: () => Promise.reject(new Error('resolver exploded')),
    addresses: () => Promise.reject(new Error('resolver exploded')),
    tlsa: () => Promise.reject(new Error('resolver exploded')),
  };
  const agent = new SmtpAgent({
    config: Config.fromText('myhostname = c.test'),
    log,
    resolver: broken,
    ownAddresses: new Set(),
  });
  const out = await agent.deliver(makeRequest('example.test', ['a@example.test', 'b@example.test']));
  assert.deepEqual(
    out.map((o) => [o.index, o.status, o.dsn, o.reason]),
    [
      [0, 'deferred', '4.3.0', 'mail transport unavailable'],
      [1, 'deferred', '4.3.0', 'mail transport unavailable'],
    ],
  );
  assert.deepEqual(log.texts(), ['warning: ABC123: smtp delivery to example.test failed: resolver exploded']);
});

test('smtp_address_preference orders address families', async () => {
  const both: Resolver = {
    mx: () => Promise.resolve({ kind: 'nodata', text: 'x' }),
    addresses: (_n, type) =>
      Promise.resolve({ kind: 'ok', records: [type === 'A' ? '192.0.2.1' : '2001:db8::1'], authentic: false }),
    tlsa: () => Promise.resolve({ kind: 'nodata', text: 'x' }),
  };
  const order = async (pref: string): Promise<string[]> => {
    const s = readSettings(Config.fromText(`smtp_address_preference = ${pref}`), 'smtp');
    const r = await hostAddresses('h.test', s, both);
    return r.kind === 'ok' ? r.addresses : [];
  };
  assert.deepEqual(await order('ipv6'), ['2001:db8::1', '192.0.2.1']);
  assert.deepEqual(await order('ipv4'), ['192.0.2.1', '2001:db8::1']);
  assert.deepEqual((await order('any')).sort(), ['192.0.2.1', '2001:db8::1']);
  const v4only = readSettings(Config.fromText('inet_protocols = ipv4'), 'smtp');
  const r = await hostAddresses('h.test', v4only, both);
  assert.deepEqual(r.kind === 'ok' && r.addresses, ['192.0.2.1']);
});
