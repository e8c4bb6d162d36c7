// verify(8) from the optional smtpd worker process: its queries and waits
// travel over the cleanup channel to the core's verify service (a real
// socket pair on loopback here); no service in the core, a malformed answer
// or a closed channel is an error the restriction turns into "address
// verification problem"; updates are refused from the smtpd side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { CleanupLink } from '../../src/daemons/smtpd-worker/cleanup-link.js';
import { serveSmtpdLink } from '../../src/daemons/smtpd-worker/core-link-server.js';
import type { AddressVerifier, VerifyAnswer } from '../../src/daemons/verify/verify-api.js';

async function socketPair(): Promise<[Socket, Socket, () => Promise<void>]> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect(port, '127.0.0.1');
  const core = await accepted;
  return [core, client, () => new Promise<void>((r) => server.close(() => r()))];
}

class ScriptVerifier implements AddressVerifier {
  readonly negativeCache = true;
  readonly asked: string[] = [];
  waits: number[] = [];
  query(address: string): Promise<VerifyAnswer> {
    this.asked.push(address);
    return Promise.resolve(
      address.startsWith('bob') ? { status: 'bounce', text: 'host x said: 550 no' } : { status: 'ok', text: '250 Ok' },
    );
  }
  update(): Promise<void> {
    return Promise.resolve();
  }
  settled(_address: string, ms: number): Promise<void> {
    this.waits.push(ms);
    return Promise.resolve();
  }
}

test('queries and waits from the smtpd worker reach the core verify service', async (t) => {
  const [core, smtpd, close] = await socketPair();
  const v = new ScriptVerifier();
  const log = new MemoryLogger('postfix/smtpd');
  let service: AddressVerifier | undefined = v;
  serveSmtpdLink(core, { cleanup: () => undefined, flusher: () => undefined, log, verify: () => service });
  const link = new CleanupLink(log);
  link.setChannel(smtpd);
  t.after(async () => {
    link.close();
    core.destroy();
    await close();
  });
  assert.deepEqual(await link.verifier.query('bob@example.net'), { status: 'bounce', text: 'host x said: 550 no' });
  assert.deepEqual(await link.verifier.query('alice@example.net'), { status: 'ok', text: '250 Ok' });
  await link.verifier.settled('carol@example.net', 3_600_000);
  assert.deepEqual(v.waits, [60_000], 'a wait is bounded by the core');
  await assert.rejects(link.verifier.update('a@b', 'ok', 'x'), /not accepted from the smtpd worker/);
  service = undefined;
  await assert.rejects(link.verifier.query('dave@example.net'), /verify service is not running/);
  await assert.rejects(link.verifier.query('x'.repeat(5000)), /bad address/);
  assert.deepEqual(v.asked, ['bob@example.net', 'alice@example.net']);
  const closed = new Promise((r) => smtpd.once('close', r));
  smtpd.destroy();
  await closed;
  await assert.rejects(link.verifier.query('erin@example.net'), /not connected/);
});
