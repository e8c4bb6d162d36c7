// The stock master.cf `submission` entry's -o overrides (587: STARTTLS
// required, AUTH only over TLS, clients must authenticate) applied through
// Config.withOverrides as master.cf does, with the real access policy.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { openDict } from '../../src/global/dict/open.js';
import { createSmtpdAuth } from '../../src/daemons/smtpd/sasl/server-auth.js';
import { createSmtpdTls } from '../../src/daemons/smtpd/tls/server-tls.js';
import { createSmtpdPolicy } from '../../src/daemons/smtpd/restrictions/index.js';
import { BASE_MAIN_CF, startSmtpd } from '../smtpd/harness.js';
import { makePki } from '../tls/pki.js';
import { SmtpTestClient } from '../tls/tls-client.js';

const pki = makePki();
const dir = mkdtempSync(join(tmpdir(), 'postern-submission-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

test('submission (587) with the stock -o overrides', { skip: !pki && 'no openssl' }, async () => {
  writeFileSync(join(dir, 'users'), 'carol {PLAIN}c4rol\n');
  const mainCf = [
    BASE_MAIN_CF,
    'mydestination = mx.example.test',
    `smtpd_tls_chain_files = ${pki!.rsaChain}`,
    'smtpd_sasl_type = postern',
    `smtpd_sasl_path = texthash:${join(dir, 'users')}`,
  ].join('\n');
  const overrides = {
    syslog_name: 'postfix/submission',
    smtpd_tls_security_level: 'encrypt',
    smtpd_sasl_auth_enable: 'yes',
    smtpd_tls_auth_only: 'yes',
    smtpd_reject_unlisted_recipient: 'no',
    smtpd_client_restrictions: 'permit_sasl_authenticated,reject',
    smtpd_relay_restrictions: 'permit_sasl_authenticated,reject',
  };
  const config = Config.fromText(`${mainCf}\n`).withOverrides(overrides);
  const logger = new MemoryLogger('postfix/submission/smtpd');
  const tls = createSmtpdTls(config, logger);
  const auth = createSmtpdAuth(config, (s) => openDict(s, { config }), logger);
  const policy = createSmtpdPolicy({
    config,
    openDict: (s) => openDict(s, { config }),
    resolver: { query: () => Promise.resolve({ status: 'notfound' }) },
    logger,
  });
  const text = Object.entries(overrides)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n');
  const h = await startSmtpd(`mydestination = mx.example.test\n${text}`, {
    extra: { tls, auth, policy, service: 'submission' },
  });
  const c = await SmtpTestClient.plain(h.port);
  await c.reply();
  const ehlo = await c.cmd('EHLO mua.test');
  assert.match(ehlo, /\n250-STARTTLS\n/);
  assert.doesNotMatch(ehlo, /AUTH/);
  assert.equal(await c.cmd('MAIL FROM:<carol@x>'), '530 5.7.0 Must issue a STARTTLS command first');
  await c.cmd('STARTTLS');
  await c.starttls();
  assert.match(await c.cmd('EHLO mua.test'), /\n250-AUTH PLAIN LOGIN\n/);
  assert.equal(await c.cmd('MAIL FROM:<carol@x>'), '250 2.1.0 Ok');
  assert.match(await c.cmd('RCPT TO:<someone@far.test>'), /^554 5\.7\.1 /);
  await c.cmd('RSET');
  assert.equal(
    await c.cmd(`AUTH PLAIN ${Buffer.from('\0carol\0c4rol').toString('base64')}`),
    '235 2.7.0 Authentication successful',
  );
  assert.equal(await c.cmd('MAIL FROM:<carol@x>'), '250 2.1.0 Ok');
  assert.equal(await c.cmd('RCPT TO:<someone@far.test>'), '250 2.1.5 Ok');
  c.close();
  await h.close();
});
