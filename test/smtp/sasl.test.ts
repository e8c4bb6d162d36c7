// SMTP AUTH from the client: credentials from smtp_sasl_password_maps keyed
// by the next hop, PLAIN and LOGIN, a rejected password (soft bounce), and
// the default security options refusing plaintext mechanisms without TLS.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpAgent } from '../../src/daemons/smtp/agent.js';
import { chooseMechanism, readSaslSettings } from '../../src/daemons/smtp/sasl.js';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import type { Dict } from '../../src/global/dict/dict-api.js';
import { makeRequest, startPeer, type Peer } from './harness.js';

const peers: Peer[] = [];
after(() => peers.forEach((p) => p.stop()));

function agentWith(mainCf: string, table: Record<string, string>): { agent: SmtpAgent; log: MemoryLogger } {
  const log = new MemoryLogger('postfix/smtp');
  const openDict = (spec: string): Promise<Dict> =>
    Promise.resolve({ spec, lookup: (k: string) => Promise.resolve(table[k]), close: () => Promise.resolve() });
  const config = Config.fromText(
    `myhostname = client.test\nsmtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = test:passwd\n${mainCf}`,
  );
  return { agent: new SmtpAgent({ config, log, openDict, ownAddresses: new Set() }), log };
}

test('PLAIN and LOGIN with the password found under the next hop', async () => {
  for (const mech of ['PLAIN', 'LOGIN']) {
    const p = await startPeer({ auth: 'joe:s3cret', features: ['PIPELINING', `AUTH ${mech}`] });
    peers.push(p);
    const hop = `[127.0.0.1]:${p.port}`;
    const { agent, log } = agentWith('smtp_sasl_security_options = noanonymous', { [hop]: 'joe:s3cret' });
    const [o] = await agent.deliver(makeRequest(hop, ['a@d.test']));
    await agent.close();
    assert.equal(o?.status, 'sent', mech);
    assert.deepEqual(
      (await p.records()).filter((r) => r.auth_user),
      [{ auth_user: 'joe', mech }],
    );
    assert.ok(!log.texts().some((t) => t.includes('s3cret')));
  }
});

test('a rejected password defers (smtp_sasl_auth_soft_bounce) with the server reply', async () => {
  const p = await startPeer({ auth: 'joe:right', features: ['AUTH PLAIN LOGIN'] });
  peers.push(p);
  const hop = `[127.0.0.1]:${p.port}`;
  const { agent } = agentWith('smtp_sasl_security_options = noanonymous', { [hop]: 'joe:wrong' });
  const [o] = await agent.deliver(makeRequest(hop, ['a@d.test']));
  assert.deepEqual(
    { s: o?.status, d: o?.dsn, r: o?.reason },
    {
      s: 'deferred',
      d: '4.7.8',
      r: 'SASL authentication failed; server 127.0.0.1[127.0.0.1] said: 535 5.7.8 Error: authentication failed: authentication failure',
    },
  );
});

test('default security options: no plaintext mechanism without TLS', async () => {
  const p = await startPeer({ auth: 'joe:s3cret', features: ['AUTH PLAIN LOGIN'] });
  peers.push(p);
  const hop = `[127.0.0.1]:${p.port}`;
  const { agent } = agentWith('', { [hop]: 'joe:s3cret' });
  const [o] = await agent.deliver(makeRequest(hop, ['a@d.test']));
  assert.equal(o?.status, 'deferred');
  assert.equal(
    o?.reason,
    'SASL authentication failed; cannot authenticate to server 127.0.0.1[127.0.0.1]: no mechanism available',
  );
});

test('smtp_sender_dependent_authentication: the sender, then @domain, before the server; sessions are not shared between senders', async () => {
  const p = await startPeer({ auth: ['joe:s3cret', 'dom:d0main', 'hop:h0p'], features: ['PIPELINING', 'AUTH PLAIN'] });
  peers.push(p);
  const hop = `[127.0.0.1]:${p.port}`;
  const table = { 'joe@client.test': 'joe:s3cret', '@other.test': 'dom:d0main', [hop]: 'hop:h0p' };
  const cf =
    'smtp_sasl_security_options = noanonymous\nsmtp_connection_cache_on_demand = yes\nrecipient_delimiter = +\n';
  const dep = agentWith(`${cf}smtp_sender_dependent_authentication = yes`, table);
  const send = (a: SmtpAgent, sender: string) => a.deliver(makeRequest(hop, ['a@d.test'], { sender }));
  const outcomes = [
    ...(await send(dep.agent, 'joe+tag@client.test')),
    ...(await send(dep.agent, 'ann@other.test')),
    ...(await send(dep.agent, 'nobody@client.test')),
  ];
  await dep.agent.close();
  // Without the switch, the sender is never a key.
  const plain = agentWith(cf, table);
  outcomes.push(...(await send(plain.agent, 'joe@client.test')));
  await plain.agent.close();
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ['sent', 'sent', 'sent', 'sent'],
  );
  assert.deepEqual(
    (await p.records()).filter((r) => r.auth_user).map((r) => r.auth_user),
    ['joe', 'dom', 'hop', 'hop'],
  );
});

test('smtp_sasl_mechanism_filter: `!plain, static:rest` leaves LOGIN; a filter naming nothing offered leaves none', async () => {
  const p = await startPeer({ auth: 'joe:s3cret', features: ['AUTH PLAIN LOGIN'] });
  peers.push(p);
  const hop = `[127.0.0.1]:${p.port}`;
  const cf = 'smtp_sasl_security_options = noanonymous\n';
  const a = agentWith(`${cf}smtp_sasl_mechanism_filter = !plain, static:rest`, { [hop]: 'joe:s3cret' });
  const [o] = await a.agent.deliver(makeRequest(hop, ['a@d.test']));
  await a.agent.close();
  assert.equal(o?.status, 'sent');
  assert.deepEqual(
    (await p.records()).filter((r) => r.auth_user),
    [{ auth_user: 'joe', mech: 'LOGIN' }],
  );
  const b = agentWith(`${cf}smtp_sasl_mechanism_filter = cram-md5`, { [hop]: 'joe:s3cret' });
  const [o2] = await b.agent.deliver(makeRequest(hop, ['a@d.test']));
  assert.equal(o2?.status, 'deferred');
  assert.match(o2?.reason ?? '', /no mechanism available$/);
});

test('SCRAM-SHA-256 and SCRAM-SHA-1 are preferred and allowed without TLS; a server that fails its proof is refused', async () => {
  for (const mech of ['SCRAM-SHA-256', 'SCRAM-SHA-1']) {
    const p = await startPeer({ auth: 'joe:s3cret', features: ['PIPELINING', `AUTH PLAIN LOGIN ${mech}`] });
    peers.push(p);
    const hop = `[127.0.0.1]:${p.port}`;
    // Default options (noplaintext): SCRAM is not a plaintext mechanism.
    const { agent } = agentWith('', { [hop]: 'joe:s3cret' });
    const [o] = await agent.deliver(makeRequest(hop, ['a@d.test']));
    await agent.close();
    assert.equal(o?.status, 'sent', `${mech}: ${o?.reason}`);
    assert.deepEqual(
      (await p.records()).filter((r) => r.auth_user),
      [{ auth_user: 'joe', mech }],
    );
  }
  const liar = await startPeer({ auth: 'joe:s3cret', scram_lie: true, features: ['AUTH SCRAM-SHA-256'] });
  peers.push(liar);
  const hop = `[127.0.0.1]:${liar.port}`;
  const { agent } = agentWith('', { [hop]: 'joe:s3cret' });
  const [o] = await agent.deliver(makeRequest(hop, ['a@d.test']));
  assert.equal(o?.status, 'deferred');
  assert.equal(
    o?.reason,
    'SASL authentication failed; server 127.0.0.1[127.0.0.1] said: SCRAM server signature mismatch',
  );
  const wrong = agentWith('', { [hop]: 'joe:wrong' });
  const [w] = await wrong.agent.deliver(makeRequest(hop, ['a@d.test']));
  assert.equal(w?.status, 'deferred');
  assert.match(w?.reason ?? '', /said: 535 5\.7\.8 /);
});

test('security options follow the session: plain, TLS, or TLS with a verified server', () => {
  const s = readSaslSettings(
    Config.fromText(
      'smtp_sasl_security_options = noplaintext\nsmtp_sasl_tls_security_options = noplaintext\nsmtp_sasl_tls_verified_security_options = noanonymous\n',
    ),
    'smtp',
  );
  assert.deepEqual(
    (['none', 'tls', 'verified'] as const).map((t) => chooseMechanism(s, 'PLAIN LOGIN', t)),
    [undefined, undefined, 'PLAIN'],
  );
});
