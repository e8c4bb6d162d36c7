// smtpd's memory of client-name answers: reused only within its lifetime,
// "no such name" remembered but "try again" not, one lookup in flight per
// address, and never more entries than its bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cachingResolver } from '../../src/daemons/smtpd/peer-cache.js';
import { lookupPeer, type PeerResolver } from '../../src/daemons/smtpd/peer.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';

function counting(answers: Record<string, string[] | Error>): PeerResolver & { calls: string[] } {
  const calls: string[] = [];
  const answer = async (key: string): Promise<string[]> => {
    calls.push(key);
    await new Promise((r) => setImmediate(r));
    const a = answers[key];
    if (a instanceof Error) throw a;
    return a ?? [];
  };
  return { calls, reverse: (addr) => answer(`r ${addr}`), forward: (name, f) => answer(`f${f} ${name}`) };
}

function coded(code: string): Error {
  return Object.assign(new Error(code), { code });
}

test('answers are reused within the lifetime and asked again after it', async () => {
  let now = 1000;
  const inner = counting({ 'r 192.0.2.1': ['mx.example.net'], 'f4 mx.example.net': ['192.0.2.1'] });
  const r = cachingResolver(inner, { ttlMs: 5000, now: () => now });
  const log = new MemoryLogger();
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await lookupPeer(r, '192.0.2.1', log), { name: 'mx.example.net', reverseName: 'mx.example.net' });
  }
  assert.deepEqual(inner.calls, ['r 192.0.2.1', 'f4 mx.example.net']);
  now += 5000;
  await lookupPeer(r, '192.0.2.1', log);
  assert.equal(inner.calls.length, 4);
});

test('a name that does not exist is remembered, a temporary failure is not', async () => {
  const inner = counting({ 'r 192.0.2.7': coded('ENOTFOUND'), 'r 192.0.2.8': coded('EAI_AGAIN') });
  const r = cachingResolver(inner, { now: () => 0 });
  const log = new MemoryLogger();
  for (let i = 0; i < 3; i++) {
    assert.equal((await lookupPeer(r, '192.0.2.7', log)).name, 'unknown');
    assert.equal((await lookupPeer(r, '192.0.2.8', log)).name, 'unknown');
  }
  assert.equal(inner.calls.filter((c) => c === 'r 192.0.2.7').length, 1);
  assert.equal(inner.calls.filter((c) => c === 'r 192.0.2.8').length, 3);
});

test('a mismatch is still logged for every session that meets it', async () => {
  const inner = counting({ 'r 192.0.2.9': ['liar.example'], 'f4 liar.example': ['198.51.100.1'] });
  const r = cachingResolver(inner, { now: () => 0 });
  const log = new MemoryLogger();
  for (let i = 0; i < 2; i++) assert.equal((await lookupPeer(r, '192.0.2.9', log)).name, 'unknown');
  const warnings = log.texts().filter((l) => l.includes('does not resolve to address 192.0.2.9'));
  assert.equal(warnings.length, 2);
  assert.equal(inner.calls.length, 2);
});

test('concurrent sessions from one address share one lookup; the bound evicts the oldest', async () => {
  const inner = counting({});
  const r = cachingResolver(inner, { maxEntries: 2, now: () => 0 });
  await Promise.all(Array.from({ length: 5 }, () => r.reverse('192.0.2.1')));
  assert.equal(inner.calls.length, 1);
  await r.reverse('192.0.2.2');
  await r.reverse('192.0.2.3');
  await r.reverse('192.0.2.1');
  assert.deepEqual(inner.calls, ['r 192.0.2.1', 'r 192.0.2.2', 'r 192.0.2.3', 'r 192.0.2.1']);
});
