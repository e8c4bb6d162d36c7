// qmgr(8)'s preemptive scheduling end to end: a 300-recipient list submitted
// with sendmail and three one-recipient messages received by smtpd go to the
// same relay, one delivery at a time; the relay holds its reply to the list's
// first batch until the small messages are queued. They are delivered next,
// not after the list's 30 batches; with default_delivery_slot_cost = 0
// (preemption off) they wait for the whole list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBin } from '../postfix/run-bin.js';
import { e2eSkip, startMailSystem, swaks } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

async function scenario(extraCf: string): Promise<{ smallAt: number[]; total: number; listBatches: number }> {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((r) => (open = r));
  const receiver = await RecordingReceiver.start({ beforeDataReply: (i) => (i === 0 ? gate : undefined) });
  const sys = await startMailSystem({
    mainCf: `myhostname = mx.example.test
mydestination =
relayhost = [127.0.0.1]:${receiver.port}
smtp_destination_concurrency_limit = 1
smtp_destination_recipient_limit = 10
${extraCf}`,
  });
  try {
    const list = Array.from({ length: 300 }, (_, i) => `member${i}@lists.example.net`);
    const sent = await runBin('sendmail', ['-C', sys.configDir, '-f', 'owner@example.test', ...list], {
      input: 'Subject: newsletter\n\nhello all\n',
    });
    assert.equal(sent.code, 0, sent.stderr);
    await receiver.waitFor(1, 30_000);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await swaks(sys.port, `friend${i}@example.test`, `pal${i}@remote.test`));
    for (const id of ids)
      await sys.waitForLog(new RegExp(`${id}: from=<friend\\d@example\\.test>, .*\\(queue active\\)`));
    open();
    const all = await receiver.waitFor(33, 60_000);
    const smallAt = all.map((m, i) => (m.mailFrom.startsWith('friend') ? i : -1)).filter((i) => i >= 0);
    const listRcpts = all.filter((m) => m.mailFrom === 'owner@example.test').flatMap((m) => m.rcptTo);
    assert.equal(new Set(listRcpts).size, 300);
    return { smallAt, total: all.length, listBatches: all.length - smallAt.length };
  } catch (e) {
    open();
    throw new Error(`${(e as Error).message}\nmail log:\n${await sys.log()}`);
  } finally {
    await sys.cleanup();
    await receiver.close();
  }
}

test('small messages overtake a 300-recipient list to the same relay', { skip: e2eSkip('swaks') }, async () => {
  const r = await scenario('');
  assert.equal(r.total, 33);
  assert.equal(r.listBatches, 30);
  assert.deepEqual(r.smallAt, [1, 2, 3]);
});

test('with default_delivery_slot_cost = 0 the list is not preempted', { skip: e2eSkip('swaks') }, async () => {
  const r = await scenario('default_delivery_slot_cost = 0\n');
  assert.deepEqual(r.smallAt, [30, 31, 32]);
});
