// Address splitting, quoting, syntax and lookup-key order (access(5), virtual(5)).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkPathSyntax,
  externalAddress,
  internalAddress,
  isFqdn,
  isValidHostname,
  quoteLocalPart,
  splitAddress,
  stripSourceRoute,
  unquoteLocalPart,
} from '../../src/global/addr/address.js';
import { splitExtension, stripAddressExtension } from '../../src/global/addr/extension.js';
import {
  accessAddressKeys,
  clientAddressKeys,
  domainKeys,
  mailAddressKeys,
} from '../../src/global/addr/lookup-keys.js';

test('split at the last unquoted @', () => {
  assert.deepEqual(splitAddress('a@b@c'), { local: 'a@b', domain: 'c', hasAt: true });
  assert.deepEqual(splitAddress('"a@b"@c'), { local: '"a@b"', domain: 'c', hasAt: true });
  assert.deepEqual(splitAddress('"a@b"'), { local: '"a@b"', domain: '', hasAt: false });
  assert.deepEqual(splitAddress('a\\@b'), { local: 'a\\@b', domain: '', hasAt: false });
  assert.deepEqual(splitAddress('user@'), { local: 'user', domain: '', hasAt: true });
});

test('quoting follows RFC 5321 Dot-string', () => {
  assert.equal(quoteLocalPart('john.doe'), 'john.doe');
  assert.equal(quoteLocalPart('john doe'), '"john doe"');
  assert.equal(quoteLocalPart('a..b'), '"a..b"');
  assert.equal(quoteLocalPart('.a'), '".a"');
  assert.equal(quoteLocalPart('a"b'), '"a\\"b"');
  assert.equal(quoteLocalPart(''), '""');
  assert.equal(unquoteLocalPart('"a\\"b c"'), 'a"b c');
  assert.equal(internalAddress('"x@y"@example.com'), 'x@y@example.com');
  assert.equal(externalAddress('x@y', 'example.com'), '"x@y"@example.com');
});

test('quote and unquote round-trip any local part', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (local) => {
      const q = quoteLocalPart(local);
      assert.equal(unquoteLocalPart(q), local);
      // The quoted form, with any domain, splits back to the same parts.
      const s = splitAddress(`${q}@example.com`);
      assert.equal(s.domain, 'example.com');
      assert.equal(unquoteLocalPart(s.local), local);
    }),
    { numRuns: 300 },
  );
});

test('splitting never throws and never loses characters', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (addr) => {
      const s = splitAddress(addr);
      assert.equal(s.hasAt ? `${s.local}@${s.domain}` : s.local, addr);
      checkPathSyntax(addr);
    }),
    { numRuns: 300 },
  );
});

test('path syntax as smtpd checks it', () => {
  assert.equal(checkPathSyntax(''), undefined);
  assert.equal(checkPathSyntax('user@example.com'), undefined);
  assert.equal(checkPathSyntax('"john doe"@example.com'), undefined);
  assert.equal(checkPathSyntax('user@[192.0.2.1]'), undefined);
  assert.equal(checkPathSyntax('user@[IPv6:2001:db8::1]'), undefined);
  assert.equal(checkPathSyntax('@a.example,@b.example:user@c.example'), undefined);
  assert.equal(checkPathSyntax('user'), undefined);
  assert.equal(checkPathSyntax('a..b@example.com'), 'bad local part');
  assert.equal(checkPathSyntax('a b@example.com'), 'bad local part');
  assert.equal(checkPathSyntax('user@exa mple.com'), 'bad domain');
  assert.equal(checkPathSyntax('user@-bad.example'), 'bad domain');
  assert.equal(checkPathSyntax('@a.example:'), 'bad local part');
  assert.equal(checkPathSyntax('@:user@x.example'), 'bad route');
  assert.equal(checkPathSyntax(`${'a'.repeat(300)}@example.com`), 'too long');
  assert.equal(stripSourceRoute('@a,@b:user@c'), 'user@c');
  assert.equal(stripSourceRoute('user@c'), 'user@c');
});

test('host names', () => {
  assert.ok(isValidHostname('mail.example.com'));
  assert.ok(isValidHostname('mail.example.com.'));
  assert.ok(isValidHostname('under_score.example'));
  assert.ok(!isValidHostname('bad..example'));
  assert.ok(!isValidHostname('-x.example'));
  assert.ok(!isValidHostname('1.2.3.4'));
  assert.ok(!isValidHostname(`${'a'.repeat(64)}.example`));
  assert.ok(isFqdn('a.b'));
  assert.ok(!isFqdn('localhost'));
  assert.ok(!isFqdn('localhost.'));
});

test('extensions per recipient_delimiter and owner_request_special', () => {
  const opts = { delimiters: '+-' };
  assert.deepEqual(splitExtension('user+foo', opts), { base: 'user', delimiter: '+', extension: 'foo' });
  assert.deepEqual(splitExtension('user-foo+bar', opts), { base: 'user', delimiter: '-', extension: 'foo+bar' });
  assert.equal(splitExtension('owner-list', opts), undefined);
  assert.equal(splitExtension('list-request', opts), undefined);
  assert.equal(splitExtension('+user', { delimiters: '+' }), undefined);
  assert.equal(splitExtension('user+foo', { delimiters: '' }), undefined);
  assert.deepEqual(splitExtension('owner-list', { delimiters: '-', ownerRequestSpecial: false })?.base, 'owner');
  assert.equal(stripAddressExtension('user+foo@example.com', opts), 'user@example.com');
  assert.equal(stripAddressExtension('user@example.com', opts), undefined);
});

test('access(5) address key order', () => {
  const opts = { delimiters: '+', parentMatchesSubdomains: true };
  assert.deepEqual(accessAddressKeys('user+foo@sub.example.com', opts), [
    'user+foo@sub.example.com',
    'user@sub.example.com',
    'sub.example.com',
    'example.com',
    'com',
    'user+foo@',
    'user@',
  ]);
  assert.deepEqual(accessAddressKeys('user@sub.example.com', { ...opts, parentMatchesSubdomains: false }), [
    'user@sub.example.com',
    'sub.example.com',
    '.example.com',
    '.com',
    'user@',
  ]);
  assert.deepEqual(accessAddressKeys('', opts), ['<>']);
  assert.deepEqual(accessAddressKeys('', { ...opts, nullKey: 'null' }), ['null']);
  assert.deepEqual(accessAddressKeys('"a b"@x.example', opts), ['a b@x.example', 'x.example', 'example', 'a b@']);
});

test('domain and client address keys', () => {
  assert.deepEqual(domainKeys('a.b.c.', { parentMatchesSubdomains: false }), ['a.b.c', '.b.c', '.c']);
  assert.deepEqual(clientAddressKeys('192.0.2.1'), ['192.0.2.1', '192.0.2', '192.0', '192']);
  assert.deepEqual(clientAddressKeys('2001:DB8:0:1::5'), [
    '2001:db8:0:1::5',
    '2001:db8:0:1',
    '2001:db8:0',
    '2001:db8',
    '2001',
  ]);
});

test('virtual/canonical key order', () => {
  const o = { delimiters: '+', localDomain: true };
  assert.deepEqual(mailAddressKeys('u+x@example.com', o), [
    'u+x@example.com',
    'u@example.com',
    'u+x',
    'u',
    '@example.com',
  ]);
  assert.deepEqual(mailAddressKeys('u@example.com', { ...o, localDomain: false }), ['u@example.com', '@example.com']);
});
