// verify(8)'s cache rules with a fake clock and a recording probe sender:
// the first query answers "in progress" and sends one probe; concurrent and
// repeated queries do not send more; results are cached for their refresh
// time, refreshed after it while still answering, forgotten after the expire
// time; a failed probe never replaces "deliverable"; a lost probe is resent
// after 1000 s; address_verify_negative_cache = no stores nothing for an
// unknown address; the cleanup run drops what expired.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { MemoryVerifyMap } from '../../src/daemons/verify/cache-map.js';
import { decodeEntry, encodeEntry } from '../../src/daemons/verify/cache-entry.js';
import { Verifier, type VerifierSettings } from '../../src/daemons/verify/verifier.js';

const DAY = 86_400;
const DEFAULTS: VerifierSettings = {
  positiveExpire: 31 * DAY,
  positiveRefresh: 7 * DAY,
  negativeExpire: 3 * DAY,
  negativeRefresh: 3 * 3600,
  negativeCache: true,
};

function setup(settings: Partial<VerifierSettings> = {}, failProbes = false) {
  let now = 1_700_000_000_000;
  const probes: string[] = [];
  const map = new MemoryVerifyMap();
  const logger = new MemoryLogger('postfix/verify');
  const v = new Verifier({
    map,
    settings: { ...DEFAULTS, ...settings },
    logger,
    now: () => now,
    sendProbe: (a) => {
      if (failProbes) return Promise.reject(new Error('cleanup service is not running'));
      probes.push(a);
      return Promise.resolve();
    },
  });
  return { v, map, probes, logger, advance: (s: number) => (now += s * 1000), nowS: () => Math.floor(now / 1000) };
}

test('an unknown address: "in progress" and one probe, however many ask at once', async () => {
  const { v, probes, map } = setup();
  const answers = await Promise.all([
    v.query('Bob@Example.COM'),
    v.query('bob@example.com'),
    v.query('bob@example.com'),
  ]);
  for (const a of answers) assert.deepEqual(a, { status: 'todo', text: 'Address verification in progress' });
  assert.deepEqual(probes, ['Bob@Example.COM']);
  const e = decodeEntry((await map.get('bob@example.com')) ?? '');
  assert.equal(e?.status, 'todo');
  assert.ok((e?.probed ?? 0) > 0);
});

test('a result is cached, refreshed after the refresh time and forgotten after the expire time', async () => {
  const { v, probes, advance } = setup();
  await v.query('a@example.com');
  await v.update('a@example.com', 'ok', '250 2.1.5 Ok');
  assert.deepEqual(await v.query('a@example.com'), { status: 'ok', text: '250 2.1.5 Ok' });
  assert.equal(probes.length, 1);
  advance(7 * DAY + 10);
  // Still deliverable while the refresh probe is out.
  assert.deepEqual(await v.query('a@example.com'), { status: 'ok', text: '250 2.1.5 Ok' });
  assert.equal(probes.length, 2);
  assert.equal((await v.query('a@example.com')).status, 'ok');
  assert.equal(probes.length, 2, 'one refresh probe, not one per query');
  advance(31 * DAY);
  assert.equal((await v.query('a@example.com')).status, 'todo');
  assert.equal(probes.length, 3);
});

test('a failed probe does not replace "deliverable"; failures replace each other', async () => {
  const { v } = setup();
  await v.update('a@example.com', 'ok', '250 Ok');
  await v.update('a@example.com', 'bounce', '550 no');
  assert.deepEqual(await v.query('a@example.com'), { status: 'ok', text: '250 Ok' });
  await v.update('b@example.com', 'defer', 'connection refused');
  await v.update('b@example.com', 'bounce', '550 5.1.1 unknown');
  assert.deepEqual(await v.query('b@example.com'), { status: 'bounce', text: '550 5.1.1 unknown' });
  await v.update('b@example.com', 'ok', '250 Ok');
  assert.equal((await v.query('b@example.com')).status, 'ok');
});

test('negative results: refreshed after address_verify_negative_refresh_time', async () => {
  const { v, probes, advance } = setup();
  await v.query('b@example.com');
  await v.update('b@example.com', 'bounce', '550 unknown');
  advance(3600);
  assert.equal((await v.query('b@example.com')).status, 'bounce');
  assert.equal(probes.length, 1);
  advance(2 * 3600 + 1);
  assert.deepEqual(await v.query('b@example.com'), { status: 'bounce', text: '550 unknown' });
  assert.equal(probes.length, 2);
});

test('a probe with no answer for 1000 s is presumed lost and sent again', async () => {
  const { v, probes, advance } = setup();
  await v.query('c@example.com');
  advance(999);
  await v.query('c@example.com');
  assert.equal(probes.length, 1);
  advance(2);
  assert.equal((await v.query('c@example.com')).status, 'todo');
  assert.equal(probes.length, 2);
});

test('address_verify_negative_cache = no: nothing stored for an unknown address, every query probes', async () => {
  const { v, probes, map } = setup({ negativeCache: false });
  await v.query('d@example.com');
  await v.query('d@example.com');
  assert.equal(probes.length, 2);
  assert.equal(await map.get('d@example.com'), undefined);
  assert.equal(v.negativeCache, false);
});

test('a probe that cannot be queued is logged and retried at the next query', async () => {
  const { v, map, logger } = setup({}, true);
  assert.equal((await v.query('e@example.com')).status, 'todo');
  assert.equal(await map.get('e@example.com'), undefined);
  assert.match(
    logger.lines.map((l) => l.text).join('\n'),
    /cannot send address verification probe for e@example\.com: cleanup service is not running/,
  );
});

test('a damaged entry is reported and the address probed afresh', async () => {
  const { v, map, probes, logger } = setup();
  await map.put('f@example.com', 'garbage');
  assert.equal((await v.query('f@example.com')).status, 'todo');
  assert.equal(probes.length, 1);
  assert.ok(
    logger.lines.some((l) => l.severity === 'warning' && /bad address verify table entry: garbage/.test(l.text)),
  );
});

test('settled() resolves at the update, or at its time limit', async () => {
  const { v } = setup();
  const started = Date.now();
  const waiting = v.settled('g@example.com', 30_000);
  await v.update('G@example.com', 'ok', 'fine');
  await waiting;
  assert.ok(Date.now() - started < 25_000);
  await v.settled('h@example.com', 10); // nobody answers: the time limit ends it
});

test('the cleanup run drops expired and damaged entries and keeps probes in flight', async () => {
  const { v, map, advance, nowS, logger } = setup();
  await v.update('old@example.com', 'bounce', 'x');
  await v.update('good@example.com', 'ok', 'y');
  advance(4 * DAY);
  await v.query('pending@example.com');
  await map.put('junk@example.com', 'nonsense');
  await map.put(
    'stale-probe@example.com',
    encodeEntry({ status: 'todo', probed: nowS() - 5000, updated: 0, text: '' }),
  );
  const r = await v.cleanup();
  assert.deepEqual(r, { retained: 2, dropped: 3 });
  assert.equal(await map.get('old@example.com'), undefined);
  assert.ok(await map.get('good@example.com'));
  assert.ok(await map.get('pending@example.com'));
  assert.match(logger.lines.at(-1)?.text ?? '', /^cache memory full cleanup: retained=2 dropped=3 entries$/);
});

test('entries: Postfix layout, text without line breaks, damaged forms refused', () => {
  const e = { status: 'bounce', probed: 0, updated: 1700000000, text: 'host x said:\r\n550 no' } as const;
  assert.equal(encodeEntry(e), '2:0:1700000000:host x said:  550 no');
  assert.deepEqual(decodeEntry('0:0:1700000000:250 Ok: a:b'), {
    status: 'ok',
    probed: 0,
    updated: 1700000000,
    text: '250 Ok: a:b',
  });
  for (const bad of ['', '4:1:1:x', '0:0:0:x', '0:a:1:x', '0:1:1']) assert.equal(decodeEntry(bad), undefined, bad);
});
