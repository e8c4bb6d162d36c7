// address_verify_sender and address_verify_sender_ttl: the fixed form, the
// null sender, the time-dependent form (base 31, no vowels, appended to the
// local part) and smtpd's recognition of our own probe sender within one TTL
// period either way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkProbeSender,
  decodeEpoch,
  encodeEpoch,
  isProbeSender,
  probeSenderAddress,
  type ProbeSenderSettings,
} from '../../src/daemons/verify/probe-sender.js';

const qualify = (a: string): string => (a.includes('@') ? a : `${a}@example.com`);
const s = (sender: string, ttlSeconds = 0): ProbeSenderSettings => ({ sender, ttlSeconds, qualify });

test('fixed and null probe senders', () => {
  assert.equal(probeSenderAddress(s('double-bounce'), 1e9), 'double-bounce@example.com');
  assert.equal(probeSenderAddress(s('<>'), 1e9), '');
  assert.equal(probeSenderAddress(s(''), 1e9), '');
  assert.ok(isProbeSender(s('double-bounce'), 'Double-Bounce@example.com', 1e9));
  assert.ok(!isProbeSender(s('double-bounce'), 'double-bounce1@example.com', 1e9));
  assert.ok(!isProbeSender(s('double-bounce'), 'double-bounce@other.com', 1e9));
  assert.ok(!isProbeSender(s('double-bounce'), '', 1e9));
  assert.ok(isProbeSender(s('<>'), '', 1e9));
  assert.throws(() => checkProbeSender('@example.com'), /must not start with '@'/);
  assert.throws(() => checkProbeSender('probe@'), /must not end with '@'/);
  checkProbeSender('postmaster@example.com');
});

test('time-dependent senders change every TTL and are recognised one period either way', () => {
  const ttl = 3 * 3600 + 17;
  const now = 1_700_000_000;
  const a = probeSenderAddress(s('probe@example.org', ttl), now);
  const m = /^probe([0-9B-DF-HJ-NP-TV-Z]+)@example\.org$/.exec(a);
  assert.ok(m, a);
  assert.equal(decodeEpoch(m[1] ?? ''), Math.floor(now / ttl));
  assert.ok(isProbeSender(s('probe@example.org', ttl), a, now));
  assert.ok(isProbeSender(s('probe@example.org', ttl), a.toLowerCase(), now + ttl));
  assert.ok(isProbeSender(s('probe@example.org', ttl), a, now - ttl));
  assert.ok(!isProbeSender(s('probe@example.org', ttl), a, now + 2 * ttl));
  assert.ok(!isProbeSender(s('probe@example.org', ttl), 'probe@example.org', now));
  assert.notEqual(probeSenderAddress(s('probe@example.org', ttl), now + ttl), a);
  assert.equal(probeSenderAddress(s('<>', ttl), now), '');
});

test('base 31 epochs round-trip and use no vowels', () => {
  for (const n of [0, 1, 30, 31, 961, 123456789]) {
    const t = encodeEpoch(n);
    assert.doesNotMatch(t, /[AEIOU]/);
    assert.equal(decodeEpoch(t), n);
  }
  assert.equal(decodeEpoch('A'), undefined);
  assert.equal(decodeEpoch(''), undefined);
});
