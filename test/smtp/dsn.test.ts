// What the smtp/lmtp client tells qmgr about success notices (Postfix's
// smtp_rcpt_done): a next hop that announces DSN gets NOTIFY and reports
// success itself (passed-on); one that does not makes the notice ours with
// Action: relayed; an LMTP server is the final destination (delivered).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeAgent, makeRequest, startPeer, type Peer } from './harness.js';

const peers: Peer[] = [];
after(() => peers.forEach((p) => p.stop()));

const notifySuccess = (addresses: string[]) =>
  addresses.map((address, index) => ({ address, original: address, index, notify: ['SUCCESS' as const] }));

test('NOTIFY=SUCCESS: passed on to a DSN server, relayed when the server lacks DSN', async () => {
  const withDsn = await startPeer({});
  const without = await startPeer({ features: ['PIPELINING', '8BITMIME'] });
  peers.push(withDsn, without);
  const results: string[] = [];
  for (const p of [withDsn, without]) {
    const { agent } = makeAgent('');
    const req = makeRequest(`[127.0.0.1]:${p.port}`, [], { recipients: notifySuccess(['a@d.test']) });
    const [o] = await agent.deliver(req);
    await agent.close();
    assert.equal(o?.status, 'sent');
    results.push(o?.dsnSuccess ?? 'absent');
  }
  assert.deepEqual(results, ['passed-on', 'relayed']);
  const rcpt = async (p: Peer) =>
    (await p.records()).map((r) => (typeof r.cmd === 'string' ? r.cmd : '')).find((c) => c.startsWith('RCPT'));
  assert.equal(await rcpt(withDsn), 'RCPT TO:<a@d.test> NOTIFY=SUCCESS');
  assert.equal(await rcpt(without), 'RCPT TO:<a@d.test>');
});

test('LMTP without DSN: a success notice says delivered', async () => {
  const p = await startPeer({ lmtp: true, features: ['PIPELINING', '8BITMIME', 'ENHANCEDSTATUSCODES'] });
  peers.push(p);
  const { agent } = makeAgent('', undefined, 'lmtp');
  const [o] = await agent.deliver(
    makeRequest(`inet:127.0.0.1:${p.port}`, [], { recipients: notifySuccess(['a@d.test']) }),
  );
  await agent.close();
  assert.deepEqual({ s: o?.status, d: o?.dsnSuccess }, { s: 'sent', d: 'delivered' });
});
