// smtpd_sasl_exceptions_networks: listed clients are not offered AUTH in
// the EHLO reply, but (for compatibility, as in Postfix) may still use it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthHook } from '../../src/daemons/smtpd/types.js';
import { RawClient, startSmtpd } from './harness.js';

const auth: AuthHook = {
  mechanisms: () => ['PLAIN'],
  authenticate: (_mech, initial) =>
    Promise.resolve(
      Buffer.from(initial ?? '', 'base64').toString('utf8') === '\0u\0p'
        ? { username: 'u' }
        : { reply: { code: 535, dsn: '5.7.8', text: 'Error: authentication failed: bad' } },
    ),
};

async function ehloAndAuth(mainCf: string): Promise<[string, string]> {
  const h = await startSmtpd(`smtpd_sasl_auth_enable = yes\n${mainCf}`, { extra: { auth } });
  try {
    const c = await RawClient.connect(h.port);
    await c.reply();
    const ehlo = await c.cmd('EHLO client.example');
    const r = await c.cmd(`AUTH PLAIN ${Buffer.from('\0u\0p').toString('base64')}`);
    await c.cmd('QUIT');
    return [ehlo, r];
  } finally {
    await h.close();
  }
}

test('smtpd_sasl_exceptions_networks hides AUTH from listed clients only', async () => {
  const [hidden, used] = await ehloAndAuth('smtpd_sasl_exceptions_networks = 127.0.0.0/8');
  assert.doesNotMatch(hidden, /AUTH/);
  assert.equal(used, '235 2.7.0 Authentication successful');
  const [shown] = await ehloAndAuth('smtpd_sasl_exceptions_networks = 192.0.2.0/24, .elsewhere.example');
  assert.match(shown, /\n250-AUTH PLAIN\n/);
});
