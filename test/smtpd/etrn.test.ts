// ETRN against the flush hook: fast_flush_domains decides eligibility
// (459 otherwise), the queue manager is asked to retry the domain, replies
// and warnings are Postfix's, and the command's own syntax rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createEtrnFlush } from '../../src/daemons/smtpd/etrn-flush.js';
import type { Dict } from '../../src/global/dict/dict-api.js';
import { BASE_MAIN_CF, RawClient, startSmtpd } from './harness.js';

const noTables = (): Promise<Dict> => Promise.reject(new Error('no tables here'));

test('ETRN: eligible domains are flushed, others get 459, no queue manager 458', async () => {
  // Postfix 3.7 refuses an address literal even when fast_flush_domains lists it.
  const mainCf = 'relay_domains = relay.example\nfast_flush_domains = $relay_domains, [192.0.2.1]';
  const flushed: (string | undefined)[] = [];
  let qmgrUp = true;
  const etrn = createEtrnFlush(
    Config.fromText(`${BASE_MAIN_CF}\n${mainCf}\n`),
    noTables,
    new MemoryLogger('postfix/smtpd'),
    () => (qmgrUp ? { flush: (site) => void flushed.push(site) } : undefined),
  );
  const h = await startSmtpd(mainCf, { extra: { etrn } });
  try {
    const c = await RawClient.connect(h.port);
    await c.reply();
    // HELO is not required unless smtpd_helo_required says so.
    assert.equal(await c.cmd('ETRN relay.example'), '250 Queuing started');
    await c.cmd('EHLO client.example');
    assert.equal(await c.cmd('ETRN @sub.relay.example'), '250 Queuing started');
    // An address literal is valid syntax (a Postfix extension to RFC 1985).
    assert.equal(await c.cmd('ETRN [192.0.2.1]'), '459 <[192.0.2.1]>: service unavailable');
    assert.equal(await c.cmd('ETRN other.example'), '459 <other.example>: service unavailable');
    assert.equal(await c.cmd('ETRN bad_name!'), '501 Error: invalid parameter syntax');
    // As Debian's Postfix 3.7.11 smtpd answers them (a throwaway instance, same dialogue).
    assert.equal(await c.cmd('ETRN 192.0.2.1'), '501 Error: invalid parameter syntax');
    assert.equal(await c.cmd('ETRN relay.example.'), '501 Error: invalid parameter syntax');
    assert.equal(await c.cmd('ETRN -a.relay.example'), '501 Error: invalid parameter syntax');
    assert.equal(await c.cmd('ETRN [999.1.1.1]'), '501 Error: invalid parameter syntax');
    assert.equal(await c.cmd('ETRN [ipv6:zz]'), '501 Error: invalid parameter syntax');
    assert.equal(await c.cmd('ETRN a_b.relay.example'), '250 Queuing started');
    assert.equal(await c.cmd('ETRN [IPv6:2001:db8::1]'), '459 <[IPv6:2001:db8::1]>: service unavailable');
    assert.equal(await c.cmd('ETRN a b'), '500 Syntax: ETRN domain');
    await c.cmd('MAIL FROM:<a@b.example>');
    assert.equal(await c.cmd('ETRN relay.example'), '503 Error: MAIL transaction in progress');
    await c.cmd('RSET');
    qmgrUp = false;
    assert.equal(await c.cmd('ETRN relay.example'), '458 Unable to queue messages');
    await c.cmd('QUIT');
  } finally {
    await h.close();
  }
  assert.deepEqual(flushed, ['relay.example', 'sub.relay.example', 'a_b.relay.example']);
  const logs = h.logs();
  assert.ok(logs.includes('warning: reject: ETRN other.example... from localhost[127.0.0.1]'), logs.join('\n'));
  assert.ok(logs.includes('warning: unable to talk to fast flush service'));
});

test('ETRN with smtpd_helo_required and smtpd_etrn_restrictions', async () => {
  const h = await startSmtpd('smtpd_helo_required = yes', {
    policy: (stage, f) =>
      stage === 'etrn' && f.etrnDomain === 'no.example'
        ? {
            action: 'reject',
            reply: { code: 554, dsn: '5.7.1', text: '<no.example>: Etrn command rejected: Access denied' },
            logText: '',
          }
        : undefined,
  });
  try {
    const c = await RawClient.connect(h.port);
    await c.reply();
    assert.equal(await c.cmd('ETRN x.example'), '503 Error: send HELO/EHLO first');
    await c.cmd('HELO client.example');
    assert.equal(await c.cmd('ETRN no.example'), '554 5.7.1 <no.example>: Etrn command rejected: Access denied');
    await c.cmd('QUIT');
  } finally {
    await h.close();
  }
});
