// qmgr with verify(8)'s probes: routed by the address_verify_* overrides,
// agents asked in verify mode, every answer reported to the verify service
// (under the probed address and the rewritten one) and never to the sender,
// the probe discarded after one attempt; no verify service → the probe
// waits; address_verify_negative_cache = no → failures are not reported;
// address_verify_pending_request_limit defers probes beyond it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './harness.js';
import type { AddressVerifier, VerifyStatus } from '../../src/daemons/verify/verify-api.js';

class RecordingVerifier implements AddressVerifier {
  readonly updates: [string, VerifyStatus, string][] = [];
  constructor(readonly negativeCache = true) {}
  query(): Promise<{ status: VerifyStatus; text: string }> {
    return Promise.resolve({ status: 'todo', text: '' });
  }
  update(address: string, status: Exclude<VerifyStatus, 'todo'>, text: string): Promise<void> {
    this.updates.push([address, status, text]);
    return Promise.resolve();
  }
  settled(): Promise<void> {
    return Promise.resolve();
  }
}

const ROUTING = 'relayhost = [normal.example]\naddress_verify_relayhost = [probe.example]\n';

function script(h: Awaited<ReturnType<typeof harness>>): void {
  h.smtp.script = (req, r) =>
    r.address.startsWith('soft')
      ? { status: 'deferred', dsn: '4.4.1', relay: 'none', reason: 'connect to probe.example[192.0.2.1]:25: refused' }
      : r.address.startsWith('bad')
        ? {
            status: 'bounced',
            dsn: '5.1.1',
            relay: `${req.nexthop}[192.0.2.1]:25`,
            reason: 'host said: 550 5.1.1 no such user',
          }
        : { status: 'sent', dsn: '2.1.5', relay: `${req.nexthop}[192.0.2.1]:25`, reason: '250 2.1.5 Ok' };
}

test('a probe takes the verify route, reports every answer to verify(8) and is discarded', async () => {
  const v = new RecordingVerifier();
  const h = await harness(ROUTING, { verify: () => v });
  script(h);
  const probe = h.store.add({
    sender: 'double-bounce@mail.example.com',
    verifyProbe: true,
    recipients: [
      { address: 'good@remote.org', original: 'Good@Remote.org' },
      'bad@remote.org',
      'soft@remote.org',
      'carol',
    ],
  });
  const mail = h.store.add({ sender: 'alice@example.com', recipients: ['friend@remote.org'] });
  await h.qmgr.whenIdle();

  const probeReqs = h.smtp.requests.filter((r) => r.queueId === probe);
  assert.ok(probeReqs.length > 0 && probeReqs.every((r) => r.verifyOnly === true && r.nexthop === '[probe.example]'));
  const mailReq = h.smtp.requests.find((r) => r.queueId === mail);
  assert.equal(mailReq?.nexthop, '[normal.example]');
  assert.equal(mailReq?.verifyOnly, undefined);
  assert.equal(h.local.requests[0]?.verifyOnly, true);

  assert.deepEqual(
    [...v.updates].sort((a, b) => a[0].localeCompare(b[0])),
    [
      ['bad@remote.org', 'bounce', 'host said: 550 5.1.1 no such user'],
      ['carol', 'ok', 'delivered to mailbox'],
      ['carol@mail.example.com', 'ok', 'delivered to mailbox'],
      ['Good@Remote.org', 'ok', '250 2.1.5 Ok'],
      ['soft@remote.org', 'defer', 'connect to probe.example[192.0.2.1]:25: refused'],
    ].sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? '')),
  );
  assert.equal(h.cleanup.injected.length, 0, 'no report, bounce or delay notice for a probe');
  assert.match(h.lines('smtp').join('\n'), /to=<bad@remote\.org>, .*status=undeliverable/);
  assert.ok(h.store.removed.includes(probe));
  const asked = h.smtp.requests.length;
  h.clock.advance(3_600_000);
  await h.qmgr.whenIdle();
  assert.equal(h.smtp.requests.length, asked, 'a deferred probe is not retried');
});

test('without a verify service the probe waits; with negative caching off only successes are reported', async () => {
  const h = await harness(ROUTING);
  script(h);
  const id = h.store.add({ sender: '', verifyProbe: true, recipients: ['good@remote.org'] });
  await h.qmgr.whenIdle();
  assert.equal(h.store.get(id)?.state, 'deferred');
  assert.match(h.lines('qmgr').join('\n'), /verify service is not running/);

  const v = new RecordingVerifier(false);
  const h2 = await harness(ROUTING, { verify: () => v });
  script(h2);
  const id2 = h2.store.add({ sender: '', verifyProbe: true, recipients: ['good@remote.org', 'bad@remote.org'] });
  await h2.qmgr.whenIdle();
  assert.deepEqual(v.updates, [['good@remote.org', 'ok', '250 2.1.5 Ok']]);
  assert.ok(h2.store.removed.includes(id2));
});

test('probes beyond address_verify_pending_request_limit are answered "Too many Verify requests"', async () => {
  const v = new RecordingVerifier();
  const h = await harness(ROUTING + 'address_verify_pending_request_limit = 1\n', { verify: () => v });
  h.smtp.script = () => ({ status: 'sent', dsn: '2.1.5', relay: 'x', reason: '250 Ok' });
  h.smtp.hold();
  h.store.add({ sender: '', verifyProbe: true, recipients: ['one@remote.org'] });
  h.store.add({ sender: '', verifyProbe: true, recipients: ['two@remote.org'] });
  const deadline = Date.now() + 10_000;
  while (v.updates.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  h.smtp.release();
  await h.qmgr.whenIdle();
  assert.deepEqual(v.updates, [
    ['two@remote.org', 'defer', 'Too many Verify requests'],
    ['one@remote.org', 'ok', '250 Ok'],
  ]);
});
