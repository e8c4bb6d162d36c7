// The core ↔ delivery channel without processes: the core's DeliveryLink and
// the delivery process's DeliveryServer on the two ends of master's socket
// pair. Content crosses in chunks and arrives whole, calls back reach the
// core, a malformed message from a hostile core closes the channel before any
// agent runs, and a lost channel defers the deliveries in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import type {
  DeliveryAgent,
  DeliveryRecipient,
  DeliveryRequest,
  RecipientOutcome,
} from '../../src/global/queue/delivery-api.js';
import { DeliveryLink, type CoreCallbacks } from '../../src/daemons/delivery/core-link.js';
import {
  DeliveryServer,
  remoteForward,
  remoteIsLocal,
  remotePass,
} from '../../src/daemons/delivery/delivery-server.js';
import { encodeFrame, FrameError, FrameReader } from '../../src/daemons/delivery/frame.js';
import { decodeToCore, decodeToDelivery } from '../../src/daemons/delivery/protocol.js';
import { socketPair } from '../../src/daemons/master/socket-pair.js';

function request(content: Buffer, pieces = 7): DeliveryRequest {
  return {
    queueId: 'ABC123',
    transport: 'local',
    nexthop: 'example.test',
    sender: 'a@example.test',
    recipients: [
      { address: 'u1@example.test', original: 'u1@example.test', index: 0 },
      { address: 'u2@example.test', original: 'u2@example.test', index: 3, notify: ['FAILURE'] },
    ],
    arrivalTime: 1_700_000_000_000,
    size: content.length,
    openContent() {
      const step = Math.ceil(content.length / pieces);
      const parts: Buffer[] = [];
      for (let i = 0; i < content.length; i += step) parts.push(content.subarray(i, i + step));
      return (async function* () {
        for (const p of parts) yield await Promise.resolve(p);
      })();
    },
  };
}

const callbacks = (seen: string[]): CoreCallbacks => ({
  isLocal: (address) => {
    seen.push(address);
    return Promise.resolve(address.endsWith('@example.test'));
  },
  forward: () => Promise.resolve({ status: 'sent', dsn: '2.0.0', reason: 'forwarded as X' }),
  pass: (_t, _n, _req, rcpt) =>
    Promise.resolve({ index: rcpt.index, status: 'sent', dsn: '2.0.0', relay: 'x', reason: 'passed' }),
});

async function pair(agents: Record<string, DeliveryAgent>) {
  const [coreEnd, deliveryEnd] = await socketPair();
  const log = new MemoryLogger();
  const link = new DeliveryLink();
  link.setChannel(coreEnd, log);
  const server = new DeliveryServer(deliveryEnd, (s) => agents[s], log);
  return { link, server, log, coreEnd, deliveryEnd };
}

test('frames: split anywhere, reassembled; an oversized frame is refused', () => {
  const a = encodeFrame({ t: 'x', n: 1 });
  const b = encodeFrame({ t: 'y' }, Buffer.from('payload'));
  const all = Buffer.concat([a, b]);
  const reader = new FrameReader(1024);
  const got = [];
  for (let i = 0; i < all.length; i += 3) got.push(...reader.push(all.subarray(i, i + 3)));
  assert.deepEqual(
    got.map((f) => [f.header, f.data.toString()]),
    [
      [{ t: 'x', n: 1 }, ''],
      [{ t: 'y' }, 'payload'],
    ],
  );
  assert.throws(
    () => new FrameReader(16).push(encodeFrame({ t: 'a long enough header to pass 16 bytes' })),
    FrameError,
  );
});

test('decoders accept the exact shapes only', () => {
  const req = {
    queueId: 'ABC',
    transport: 'local',
    nexthop: 'x',
    sender: '',
    recipients: [{ address: 'u@x', original: 'u@x', index: 0 }],
    arrivalTime: 1,
    size: 0,
  };
  assert.ok(decodeToDelivery({ t: 'deliver', id: 1, service: 'local', req }));
  assert.equal(decodeToDelivery({ t: 'deliver', id: 1, service: 'local', req, uid: 0 }), undefined, 'extra key');
  assert.equal(decodeToDelivery({ t: 'deliver', id: 1, service: 'local', req: { ...req, recipients: [] } }), undefined);
  const cr = { ...req, recipients: [{ address: 'u@x\nRCPT', original: 'u@x', index: 0 }] };
  assert.equal(decodeToDelivery({ t: 'deliver', id: 1, service: 'local', req: cr }), undefined, 'line break');
  assert.equal(
    decodeToDelivery({ t: 'deliver', id: 1, service: 'local', req: { ...req, queueId: '../x' } }),
    undefined,
  );
  assert.equal(decodeToDelivery({ t: 'deliver', id: -1, service: 'local', req }), undefined);
  assert.equal(decodeToDelivery({ t: 'exec', argv: ['/bin/sh'] }), undefined);
  const outcome = { index: 0, status: 'sent', dsn: '2.0.0', relay: 'local', reason: 'ok' };
  assert.ok(decodeToCore({ t: 'done', id: 1, outcomes: [outcome] }));
  assert.equal(decodeToCore({ t: 'done', id: 1, outcomes: [{ ...outcome, status: 'lost' }] }), undefined);
  assert.equal(decodeToCore({ t: 'done', id: 1, outcomes: [{ ...outcome, dsn: '2.0' }] }), undefined);
});

test('a request crosses the channel: content in chunks arrives whole, calls back are answered by the core', async (t) => {
  const content = randomBytes(300 * 1024); // several 64 KiB chunks
  let received: Buffer | undefined;
  let local: boolean | undefined;
  let calls: string[] = [];
  const agent: DeliveryAgent = {
    command: 'local',
    async deliver(req) {
      const parts: Buffer[] = [];
      for await (const b of req.openContent()) parts.push(b);
      received = Buffer.concat(parts);
      local = await remoteIsLocal('other@example.test', req);
      // Each call is tagged with the delivery its request object belongs to; a copy belongs to none.
      const first = req.recipients[0] as DeliveryRecipient;
      const fwd = await remoteForward({
        req,
        rcpt: first,
        sender: req.sender,
        addresses: ['x@remote.test'],
        content: received,
        addDeliveredTo: false,
      });
      const passed = await remotePass('relay', 'nh.test', req, req.recipients[1] as DeliveryRecipient);
      calls = [fwd.reason, `${passed.index} ${passed.reason}`];
      await assert.rejects(remoteIsLocal('z@example.test', { ...req }), /no delivery in progress/);
      assert.deepEqual(req.recipients[1]?.notify, ['FAILURE']);
      return req.recipients.map((r) => ({
        index: r.index,
        status: 'sent',
        dsn: '2.0.0',
        relay: 'local',
        reason: 'ok',
      }));
    },
  };
  const { link, server } = await pair({ local: agent });
  t.after(() => {
    link.close();
    server.close();
  });
  const seen: string[] = [];
  const out = await link.deliver('local', request(content), callbacks(seen));
  assert.deepEqual(
    out.map((o) => [o.index, o.status]),
    [
      [0, 'sent'],
      [3, 'sent'],
    ],
  );
  assert.ok(received?.equals(content), 'content identical');
  assert.equal(local, true);
  assert.deepEqual(seen, ['other@example.test']);
  assert.deepEqual(calls, ['forwarded as X', '3 passed']);
});

test('small content travels with the request; every reader gets all of it', async (t) => {
  const content = Buffer.from('Subject: small\r\n\r\nbody\r\n');
  const reads: string[] = [];
  const agent: DeliveryAgent = {
    command: 'pipe',
    async deliver(req) {
      for (let i = 0; i < 2; i++) {
        const parts: Buffer[] = [];
        for await (const b of req.openContent()) parts.push(b);
        reads.push(Buffer.concat(parts).toString());
      }
      return req.recipients.map((r) => ({ index: r.index, status: 'sent', dsn: '2.0.0', relay: 'x', reason: 'ok' }));
    },
  };
  const { link, server } = await pair({ p: agent });
  t.after(() => {
    link.close();
    server.close();
  });
  const out = await link.deliver('p', request(content, 3), callbacks([]));
  assert.deepEqual(
    out.map((o) => o.status),
    ['sent', 'sent'],
  );
  assert.deepEqual(reads, [content.toString(), content.toString()]);
});

test('unknown service: deferred without any agent running', async (t) => {
  const { link, server } = await pair({});
  t.after(() => {
    link.close();
    server.close();
  });
  const out = await link.deliver('nosuch', request(Buffer.from('x')), callbacks([]));
  assert.deepEqual(
    out.map((o) => [o.status, o.dsn, o.reason]),
    [
      ['deferred', '4.3.0', 'mail transport unavailable'],
      ['deferred', '4.3.0', 'mail transport unavailable'],
    ],
  );
});

test('a hostile core: a malformed request closes the channel and reaches no agent', async () => {
  let called = false;
  const agent: DeliveryAgent = {
    command: 'local',
    deliver: () => {
      called = true;
      return Promise.resolve([]);
    },
  };
  const [coreEnd, deliveryEnd] = await socketPair();
  const log = new MemoryLogger();
  new DeliveryServer(deliveryEnd, () => agent, log);
  const closed = new Promise<void>((resolve) => coreEnd.on('close', () => resolve()));
  coreEnd.resume();
  coreEnd.write(encodeFrame({ t: 'deliver', id: 1, service: 'local', req: { queueId: 'A', argv: ['/bin/sh'] } }));
  await closed;
  assert.equal(called, false);
  assert.ok(log.lines.some((l) => /malformed message from the core worker/.test(l.text)));
});

test('the delivery process dies mid-delivery: the recipients are deferred, not lost', async () => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const agent: DeliveryAgent = {
    command: 'pipe',
    deliver: () => {
      started();
      return new Promise<RecipientOutcome[]>(() => undefined); // never finishes
    },
  };
  const { link, deliveryEnd }: { link: DeliveryLink; deliveryEnd: Socket } = await pair({ slow: agent });
  const pending = link.deliver('slow', request(Buffer.from('x')), callbacks([]));
  await running;
  deliveryEnd.destroy();
  const out = await pending;
  assert.deepEqual(
    out.map((o) => [o.index, o.status, o.dsn]),
    [
      [0, 'deferred', '4.3.0'],
      [3, 'deferred', '4.3.0'],
    ],
  );
  assert.match(out[0]?.reason ?? '', /delivery process crashed/);
});
