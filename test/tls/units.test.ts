// Pure pieces of TLS configuration: Postfix protocol syntax to a Node
// version range, cipher grades to OpenSSL lists, chain file parsing and the
// errors a wrong file gives (naming the file).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import tls from 'node:tls';
import { Config } from '../../src/global/params/config.js';
import { TlsConfigError, cipherList, parseProtocols } from '../../src/global/tls/protocols.js';
import { fingerprint, loadKeyPairs, splitChain } from '../../src/global/tls/credentials.js';
import { readTlsSettings } from '../../src/daemons/smtpd/tls/settings.js';
import { makePki } from './pki.js';

test('protocol lists in every Postfix form', () => {
  const r = (v: string) => {
    const x = parseProtocols(v, 'p');
    return `${x.minVersion}-${x.maxVersion}`;
  };
  assert.equal(r('>=TLSv1'), 'TLSv1-TLSv1.3');
  assert.equal(r('>=TLSv1.2'), 'TLSv1.2-TLSv1.3');
  assert.equal(r('!SSLv2, !SSLv3'), 'TLSv1-TLSv1.3');
  assert.equal(r('!SSLv2, !SSLv3, !TLSv1, !TLSv1.1'), 'TLSv1.2-TLSv1.3');
  assert.equal(r('TLSv1.2 TLSv1.3'), 'TLSv1.2-TLSv1.3');
  assert.equal(r('>=TLSv1.1 <=TLSv1.2'), 'TLSv1.1-TLSv1.2');
  assert.equal(r(''), 'TLSv1-TLSv1.3');
  assert.throws(() => parseProtocols('!TLSv1.2', 'smtpd_tls_protocols'), /contiguous/);
  assert.throws(
    () => parseProtocols('>=TLSv9', 'smtpd_tls_protocols'),
    /smtpd_tls_protocols: unknown TLS protocol "TLSv9"/,
  );
  assert.throws(() => parseProtocols('SSLv3', 'p'), /no TLS protocol left/);
});

test('protocol parsing never fails with anything but a TlsConfigError', () => {
  const tok = fc.constantFrom('SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3', 'x', '');
  const item = fc.tuple(fc.constantFrom('', '!', '>=', '<='), tok).map(([a, b]) => a + b);
  fc.assert(
    fc.property(fc.array(item, { maxLength: 6 }), fc.constantFrom(' ', ', ', ':'), (items, sep) => {
      try {
        const r = parseProtocols(items.join(sep), 'p');
        assert.ok(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'].includes(r.minVersion));
      } catch (e) {
        assert.ok(e instanceof TlsConfigError, String(e));
      }
    }),
    { numRuns: 300 },
  );
});

test('cipher grades map to the tls_*_cipherlist values OpenSSL accepts', () => {
  const config = Config.fromText('');
  for (const g of ['export', 'low', 'medium', 'high', 'null'] as const) {
    const list = cipherList(config, g, ['aNULL', '!RC4']);
    assert.ok(list.startsWith(config.get(`tls_${g}_cipherlist`)));
    assert.ok(list.includes(':!aNULL:!RC4'));
    assert.doesNotThrow(() => tls.createSecureContext({ ciphers: list }), list);
  }
  const s = readTlsSettings(
    Config.fromText(
      'smtpd_tls_security_level = encrypt\nsmtpd_tls_mandatory_ciphers = high\nsmtpd_tls_mandatory_protocols = >=TLSv1.2\n',
    ),
    () => undefined,
  );
  assert.ok(s.ciphers.startsWith(Config.fromText('').get('tls_high_cipherlist')));
  assert.equal(s.protocols.minVersion, 'TLSv1.2');
  assert.throws(
    () => readTlsSettings(Config.fromText('smtpd_tls_security_level = verify\n'), () => undefined),
    /invalid smtpd_tls_security_level/,
  );
  // Legacy names still work when the level is unset.
  assert.equal(readTlsSettings(Config.fromText('smtpd_enforce_tls = yes\n'), () => undefined).level, 'encrypt');
  assert.equal(readTlsSettings(Config.fromText('smtpd_use_tls = yes\n'), () => undefined).level, 'may');
  const warnings: string[] = [];
  assert.equal(
    readTlsSettings(Config.fromText('smtpd_tls_security_level = may\nsmtpd_tls_req_ccert = yes\n'), (t) =>
      warnings.push(t),
    ).reqCcert,
    false,
  );
  assert.equal(warnings.length, 1);
});

const pki = makePki();
after(() => {
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

test('chain files: keys and chains, mismatched keys and missing files named', { skip: !pki && 'no openssl' }, () => {
  const pairs = splitChain(readFileSync(pki!.rsaChain, 'utf8') + readFileSync(pki!.ecChain, 'utf8'), 'both.pem');
  assert.equal(pairs.length, 2);
  const bad = join(pki!.dir, 'bad.pem');
  writeFileSync(bad, readFileSync(pki!.selfKey, 'utf8') + readFileSync(pki!.rsaCert, 'utf8'));
  assert.throws(
    () => splitChain(readFileSync(bad, 'utf8'), bad),
    /private key does not match the certificate in ".*bad\.pem"/,
  );
  assert.throws(
    () => loadKeyPairs(Config.fromText('smtpd_tls_chain_files = /nonexistent/x.pem\n'), 'smtpd'),
    /cannot load key and certificate chain from file "\/nonexistent\/x\.pem"/,
  );
  const legacy = loadKeyPairs(
    Config.fromText(`smtpd_tls_cert_file = ${pki!.rsaCert}\nsmtpd_tls_key_file = ${pki!.rsaKey}\n`),
    'smtpd',
  );
  assert.equal(legacy.length, 1);
  rmSync(bad);
});

test('fingerprints are upper-case hex pairs joined by colons', () => {
  assert.equal(fingerprint(Buffer.from('abc'), 'md5'), '90:01:50:98:3C:D2:4F:B0:D6:96:3F:7D:28:E1:7F:72');
});

test(
  'a broken DH or CA file disables TLS with a warning instead of failing the daemon',
  { skip: !pki && 'no openssl' },
  async () => {
    const { MemoryLogger } = await import('../../src/global/log/memory-logger.js');
    const { createSmtpdTls } = await import('../../src/daemons/smtpd/tls/server-tls.js');
    const log = new MemoryLogger('postfix/smtpd');
    const hook = createSmtpdTls(
      Config.fromText(
        `smtpd_tls_security_level = may\nsmtpd_tls_chain_files = ${pki!.rsaChain}\nsmtpd_tls_dh1024_param_file = /nonexistent/dh.pem\n`,
      ),
      log,
    );
    assert.equal(hook.available(), false);
    assert.match(log.texts().join('\n'), /nonexistent\/dh\.pem.*: disabling TLS support/);
    const ok = createSmtpdTls(
      Config.fromText(`smtpd_tls_security_level = may\nsmtpd_tls_chain_files = ${pki!.rsaChain}\n`),
      log,
    );
    assert.equal(ok.available(), true);
  },
);
