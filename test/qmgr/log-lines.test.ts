// Postfix's delay formatting and the to=<...> log line, field by field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDelay, recipientLogLine } from '../../src/daemons/qmgr/log-lines.js';
import { createErrorAgent, splitDsn } from '../../src/daemons/error/error.js';
import { createDiscardAgent } from '../../src/daemons/discard/discard.js';
import type { DeliveryRequest } from '../../src/global/queue/delivery-api.js';

test('delays print with two significant digits and at most delay_logging_resolution_limit decimals', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [0.004, '0'],
    [0.01, '0.01'],
    [0.1, '0.1'],
    [0.37, '0.37'],
    [0.376, '0.38'],
    [1.2, '1.2'],
    [3.33, '3.3'],
    [27.4, '27'],
    [1113.2, '1113'],
  ];
  for (const [s, want] of cases) assert.equal(formatDelay(s), want, String(s));
  assert.equal(formatDelay(0.37, 1), '0.4');
  assert.equal(formatDelay(0.37, 0), '0');
});

test('recipient line shape', () => {
  const line = recipientLogLine(
    '3F2A01C0',
    { address: 'bob@remote.org', original: 'bobby@example.com' },
    {
      index: 0,
      status: 'sent',
      dsn: '2.0.0',
      relay: 'mx.remote.org[192.0.2.7]:25',
      reason: '250 2.0.0 Ok: queued as 1234',
    },
    1.23,
    { beforeActive: 0.01, inActive: 0, setup: 0.1, transmission: 1.12 },
  );
  assert.equal(
    line,
    '3F2A01C0: to=<bob@remote.org>, orig_to=<bobby@example.com>, relay=mx.remote.org[192.0.2.7]:25, delay=1.2, delays=0.01/0/0.1/1.1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1234)',
  );
});

function req(transport: string, nexthop: string): DeliveryRequest {
  return {
    queueId: 'Q1',
    transport,
    nexthop,
    sender: 's@example.com',
    recipients: [{ address: 'a@x.test', original: 'a@x.test', index: 3 }],
    arrivalTime: 0,
    size: 10,
    openContent: async function* () {
      await Promise.resolve();
      yield Buffer.from('x\r\n');
    },
  };
}

test('error(8) bounces with the next hop text; as retry it defers', async () => {
  assert.deepEqual(splitDsn('5.1.1 User unknown', '5'), { dsn: '5.1.1', text: 'User unknown' });
  assert.deepEqual(splitDsn('4.7.1 later', '5'), { dsn: '5.7.1', text: 'later' });
  assert.deepEqual(splitDsn('plain words', '5'), { dsn: '5.0.0', text: 'plain words' });
  const agent = createErrorAgent();
  assert.deepEqual(await agent.deliver(req('error', '5.1.1 User unknown in virtual alias table')), [
    { index: 3, status: 'bounced', dsn: '5.1.1', relay: 'none', reason: 'User unknown in virtual alias table' },
  ]);
  assert.deepEqual(await agent.deliver(req('retry', 'try again tomorrow')), [
    { index: 3, status: 'deferred', dsn: '4.0.0', relay: 'none', reason: 'try again tomorrow' },
  ]);
});

test('discard(8) reports success with the next hop as text', async () => {
  assert.deepEqual(await createDiscardAgent().deliver(req('discard', 'x.test')), [
    { index: 3, status: 'sent', dsn: '2.0.0', relay: 'none', reason: 'x.test' },
  ]);
});

test('control characters in untrusted text are shown as ?', () => {
  const line = recipientLogLine(
    'Q',
    { address: 'a\nb@x.test', original: 'a\nb@x.test' },
    { index: 0, status: 'bounced', dsn: '5.0.0', relay: 'none', reason: 'bad\r\nthing' },
    0,
    { beforeActive: 0, inActive: 0, setup: 0, transmission: 0 },
  );
  assert.equal(line, 'Q: to=<a?b@x.test>, relay=none, delay=0, delays=0/0/0/0, dsn=5.0.0, status=bounced (bad??thing)');
});
