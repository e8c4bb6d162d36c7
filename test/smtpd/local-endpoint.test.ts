// The server side of the connection as smtpd reports it to restrictions
// (server_address/server_port of a policy service, milters' daemon address):
// taken from the listener when it is bound to one address, asked of each
// socket when it listens on a wildcard address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RawClient, startSmtpd } from './harness.js';
import { boundEndpoint } from '../../src/daemons/smtpd/smtpd.js';

async function serverFacts(host: string): Promise<{ addr?: string; port?: number; listened: number }> {
  const h = await startSmtpd('', { host });
  try {
    const c = await RawClient.connect(h.port, '127.0.0.1');
    await c.reply();
    await c.cmd('EHLO client.example');
    await c.cmd('MAIL FROM:<a@b.example>');
    await c.cmd('RCPT TO:<c@d.example>');
    await c.cmd('QUIT');
  } finally {
    await h.close();
  }
  const facts = h.policy.calls.at(-1)?.facts;
  return { addr: facts?.serverAddr, port: facts?.serverPort, listened: h.port };
}

test('a listener bound to one address: its address and port are the server endpoint', async () => {
  const f = await serverFacts('127.0.0.1');
  assert.equal(f.addr, '127.0.0.1');
  assert.equal(f.port, f.listened);
});

test('a wildcard listener: the endpoint is read from the accepted socket', async () => {
  const f = await serverFacts('0.0.0.0');
  assert.equal(f.addr, '127.0.0.1');
  assert.equal(f.port, f.listened);
});

test('boundEndpoint: none for a wildcard or a server that is not listening yet', async () => {
  const idle = net.createServer();
  assert.equal(boundEndpoint(idle), undefined);
  await new Promise<void>((r) => idle.listen(0, '127.0.0.1', r));
  const addr = idle.address();
  assert.deepEqual(boundEndpoint(idle), { addr: '127.0.0.1', port: typeof addr === 'object' ? addr?.port : 0 });
  idle.close();
  const any = net.createServer();
  await new Promise<void>((r) => any.listen(0, '0.0.0.0', r));
  assert.equal(boundEndpoint(any), undefined);
  any.close();
});
