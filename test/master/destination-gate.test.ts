// qmgr may hand the delivery process requests beyond a destination's window
// (DeliveryAgent.queuedAhead); the delivery process then holds each
// destination to its concurrency limit itself (delivery/destination-gate.ts):
// over the real channel, three requests to one user with a limit of 1 run one
// at a time in order, another user is not held up, and requests still
// waiting when the channel is lost are never delivered (the core has
// deferred them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { Config } from '../../src/global/params/config.js';
import type { DeliveryAgent, DeliveryRequest, RecipientOutcome } from '../../src/global/queue/delivery-api.js';
import { DeliveryLink, type CoreCallbacks } from '../../src/daemons/delivery/core-link.js';
import { DeliveryServer } from '../../src/daemons/delivery/delivery-server.js';
import { DestinationGate, destinationKey, gatePolicy } from '../../src/daemons/delivery/destination-gate.js';
import { socketPair } from '../../src/daemons/master/socket-pair.js';

function request(id: string, rcpt: string): DeliveryRequest {
  const content = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  return {
    queueId: id,
    transport: 'local',
    nexthop: 'example.test',
    sender: 'a@example.test',
    recipients: [{ address: rcpt, original: rcpt, index: 0 }],
    arrivalTime: 1_700_000_000_000,
    size: content.length,
    openContent: async function* () {
      yield await Promise.resolve(content);
    },
  };
}

const callbacks: CoreCallbacks = {
  isLocal: () => Promise.resolve(true),
  forward: () => Promise.resolve({ status: 'sent', dsn: '2.0.0', reason: 'x' }),
  pass: (_t, _n, _r, rcpt) =>
    Promise.resolve({ index: rcpt.index, status: 'sent', dsn: '2.0.0', relay: 'x', reason: '' }),
};

/** An agent whose deliveries stay open until the test releases them. */
class HeldAgent implements DeliveryAgent {
  readonly command = 'local';
  readonly started: string[] = [];
  private readonly open = new Map<string, () => void>();
  running = 0;
  deliver(req: DeliveryRequest): Promise<RecipientOutcome[]> {
    this.started.push(req.queueId);
    this.running++;
    return new Promise((resolve) => {
      this.open.set(req.queueId, () => {
        this.running--;
        resolve([{ index: 0, status: 'sent', dsn: '2.0.0', relay: 'local', reason: 'delivered' }]);
      });
    });
  }
  finish(id: string): void {
    this.open.get(id)?.();
    this.open.delete(id);
  }
}

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !pred(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(pred(), `timed out waiting for ${what}`);
}

async function setup(cf: string) {
  const [coreEnd, deliveryEnd] = await socketPair();
  const log = new MemoryLogger();
  const link = new DeliveryLink();
  link.setChannel(coreEnd, log);
  const agent = new HeldAgent();
  const gate = new DestinationGate();
  const policy = gatePolicy(Config.fromText(cf));
  const server = new DeliveryServer(deliveryEnd, (s) => (s === 'local' ? agent : undefined), log, { gate, policy });
  return { link, server, agent, gate, coreEnd };
}

test('policy and key: per recipient when the recipient limit is 1, per next hop otherwise', () => {
  const p = gatePolicy(Config.fromText('local_destination_concurrency_limit = 3\n'));
  assert.deepEqual(p('local'), { limit: 3, perRecipient: true });
  assert.deepEqual(p('smtp'), { limit: 20, perRecipient: false });
  const rcpt = [{ address: 'U@Example.test' }];
  assert.equal(destinationKey(p('local'), 'local', 'h', rcpt), 'local\0h\0u@example.test');
  assert.equal(destinationKey(p('smtp'), 'smtp', 'h', rcpt), 'smtp\0h');
});

test('requests sent ahead run one at a time per user, in order; another user is not held up', async () => {
  const s = await setup('local_destination_concurrency_limit = 1\n');
  const done = ['A1', 'A2', 'A3'].map((id) => s.link.deliver('local', request(id, 'u1@example.test'), callbacks));
  const other = s.link.deliver('local', request('B1', 'u2@example.test'), callbacks);
  await until(() => s.agent.started.length === 2, 'the first delivery of each user');
  assert.deepEqual(s.agent.started, ['A1', 'B1']);
  assert.deepEqual(s.gate.load('local\0example.test\0u1@example.test'), { running: 1, waiting: 2 });
  s.agent.finish('B1');
  assert.equal((await other)[0]?.status, 'sent');
  for (const id of ['A1', 'A2', 'A3']) {
    await until(() => s.agent.started.includes(id), `${id} to start`);
    assert.equal(s.agent.running, 1, 'never two deliveries to u1 at once');
    s.agent.finish(id);
  }
  for (const o of await Promise.all(done)) assert.equal(o[0]?.status, 'sent');
  assert.deepEqual(s.agent.started, ['A1', 'B1', 'A2', 'A3']);
  assert.deepEqual(s.gate.load('local\0example.test\0u1@example.test'), { running: 0, waiting: 0 });
  s.server.close();
});

test('requests waiting at the gate when the channel is lost are deferred by the core and never delivered', async () => {
  const s = await setup('local_destination_concurrency_limit = 1\n');
  const done = ['C1', 'C2', 'C3'].map((id) => s.link.deliver('local', request(id, 'u1@example.test'), callbacks));
  await until(() => s.gate.load('local\0example.test\0u1@example.test').waiting === 2, 'two waiting');
  s.coreEnd.destroy();
  for (const o of await Promise.all(done)) assert.equal(o[0]?.status, 'deferred');
  s.agent.finish('C1');
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(s.agent.started, ['C1'], 'the waiting requests did not start');
  assert.deepEqual(s.gate.load('local\0example.test\0u1@example.test'), { running: 0, waiting: 0 });
});
