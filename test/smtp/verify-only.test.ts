// The smtp and lmtp clients in verify mode (sendmail -bv): MAIL FROM and
// RCPT TO only, then RSET — never DATA — with and without PIPELINING; each
// recipient's RCPT reply is its answer (accepted → sent, i.e. deliverable;
// 5xx/4xx → bounced/deferred, i.e. undeliverable).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeAgent, makeRequest, startPeer, type Peer } from './harness.js';

const peers: Peer[] = [];
after(() => peers.forEach((p) => p.stop()));

for (const features of [['PIPELINING', '8BITMIME'], ['8BITMIME']]) {
  test(`verify mode (${features.join(' ')}): RCPT replies are the answer and no DATA is sent`, async () => {
    const p = await startPeer({ features });
    peers.push(p);
    const { agent } = makeAgent('');
    const out = await agent.deliver(
      makeRequest(`[127.0.0.1]:${p.port}`, ['ok@d.test', 'bad@d.test', 'later@d.test'], { verifyOnly: true }),
    );
    await agent.close();
    assert.deepEqual(
      out.map((o) => [o.status, o.dsn]),
      [
        ['sent', '2.1.5'],
        ['bounced', '5.1.1'],
        ['deferred', '4.2.0'],
      ],
    );
    assert.match(out[1]?.reason ?? '', /User unknown/);
    const cmds = (await p.records())
      .map((r) => r.cmd)
      .filter((c): c is string => typeof c === 'string')
      .map((c) => c.slice(0, 4).toUpperCase());
    assert.equal(cmds.filter((c) => c === 'RCPT').length, 3);
    assert.ok(!cmds.includes('DATA'), cmds.join(' '));
    assert.ok(!(await p.records()).some((r) => r.data), 'no message was transferred');
  });
}
