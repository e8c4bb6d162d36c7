// Restart recovery across two crashes in a row, end to end through `postfix
// start`: five accepted messages are being delivered (the receiver stalls)
// when the core worker is killed with SIGKILL; the next worker takes them up
// again from the queue on disk, and is killed the same way while delivering
// them. The third worker delivers every message exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { e2eSkip, startMailSystem, swaks, type E2eSystem } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

const COUNT = 5;

/** Kill the worker with this pid and wait until master has noticed. */
async function crash(sys: E2eSystem, pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  await sys.waitForLog(new RegExp(`postfix/master\\[\\d+\\]: warning: process core pid ${pid} killed by signal 9`));
}

/** The pid of the worker that recovered the queue after the given one died, once all `ids` are active in it. */
async function recoveredBy(sys: E2eSystem, previous: number, ids: readonly string[]): Promise<number> {
  const log = await sys.waitForLog(
    new RegExp(`postfix/\\S+\\[(?!${previous}\\])(\\d+)\\]: queue store: recovered .*returned from active to incoming`),
    30_000,
  );
  const pids = [...log.matchAll(/postfix\/\S+\[(\d+)\]: queue store: recovered .*returned from active to incoming/g)];
  const pid = Number(pids.at(-1)?.[1]);
  assert.ok(pid > 0 && pid !== previous);
  for (const id of ids)
    await sys.waitForLog(
      new RegExp(`\\[${pid}\\]: ${id}: from=<[^>]*>, size=\\d+, nrcpt=1 \\(queue active\\)`),
      30_000,
    );
  return pid;
}

test(
  'kill -9 twice while mail is being delivered: every message is delivered once after the second restart',
  { skip: e2eSkip('swaks') },
  async () => {
    const receiver = await RecordingReceiver.start({ hold: true });
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination =
relayhost = [127.0.0.1]:${receiver.port}
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s`,
    });
    try {
      const ids: string[] = [];
      for (let i = 0; i < COUNT; i++)
        ids.push(await swaks(sys.port, 'alice@example.test', 'bob@remote.test', ['--header', `Subject: crash ${i}`]));
      // the core worker is the process that wrote the queue file (smtpd may run in a process of its own)
      const first = await sys.waitForLog(new RegExp(`postfix/cleanup\\[(\\d+)\\]: ${ids[0]}: message-id=`));
      const worker1 = Number(new RegExp(`postfix/cleanup\\[(\\d+)\\]: ${ids[0]}: message-id=`).exec(first)?.[1]);
      for (const id of ids)
        await sys.waitForLog(new RegExp(`\\[${worker1}\\]: ${id}: from=<alice@example\\.test>, .*\\(queue active\\)`));
      await receiver.waitForConnections(1);

      await crash(sys, worker1);
      const worker2 = await recoveredBy(sys, worker1, ids);
      assert.match(
        await sys.log(),
        new RegExp(`\\[${worker2}\\]: queue store: recovered .*, ${COUNT} returned from active to incoming`),
      );
      await crash(sys, worker2);
      receiver.release();
      const worker3 = await recoveredBy(sys, worker2, ids);

      const got = await receiver.waitFor(COUNT, 60_000).catch(async (e: Error) => {
        throw new Error(`${e.message}\n${await sys.log()}`);
      });
      for (const id of ids) await sys.waitForLog(new RegExp(`postfix/qmgr\\[${worker3}\\]: ${id}: removed`), 30_000);
      const subjects = got.map((m) => /^Subject: (crash \d+)\r$/m.exec(m.data)?.[1]).sort();
      assert.deepEqual(
        subjects,
        Array.from({ length: COUNT }, (_, i) => `crash ${i}`),
      );
      assert.equal(receiver.messages.length, COUNT, 'nothing delivered twice');
    } finally {
      await sys.cleanup();
      await receiver.close();
    }
  },
);
