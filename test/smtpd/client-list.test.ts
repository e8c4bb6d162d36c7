// smtpd's address/name lists (mynetworks-style): first match wins, `!` negates,
// CIDR for both families, names and parent domains, and a table item is
// reported once and skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientList } from '../../src/daemons/smtpd/client-list.js';

test('first matching item decides, with negation, CIDR, names and parent domains', () => {
  const warnings: string[] = [];
  const list = new ClientList(
    ['!192.0.2.7', '192.0.2.0/24', '[2001:db8::]/32', 'hash:/etc/postfix/x', '.example.net', 'mx.example.org'],
    (w) => warnings.push(w),
  );
  const c = (addr: string, name = 'unknown'): boolean => list.matches({ addr, name });
  assert.equal(c('192.0.2.7'), false);
  assert.equal(c('192.0.2.8'), true);
  assert.equal(c('::ffff:192.0.2.9'), true);
  assert.equal(c('198.51.100.1'), false);
  assert.equal(c('2001:db8:1::5'), true);
  assert.equal(c('2001:db9::5'), false);
  assert.equal(c('203.0.113.1', 'a.b.EXAMPLE.net'), true);
  assert.equal(c('203.0.113.1', 'example.net'), false);
  assert.equal(c('203.0.113.1', 'mx.example.org'), true);
  assert.equal(c('203.0.113.1', 'xmx.example.org'), false);
  assert.deepEqual(warnings, ['table lookups are not supported in this list: hash:/etc/postfix/x: skipped']);
});
