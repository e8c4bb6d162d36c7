// smtpd's TLS end to end with real clients: Node's TLS client, openssl
// s_client -starttls smtp, python smtplib and swaks against a certificate
// from a CA the test makes. Covers levels may/encrypt, wrapper mode,
// CVE-2011-0411 injection, client certificates, protocol ranges, RSA and
// ECDSA side by side, the Received: comment and certificate reload.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDict } from '../../src/global/dict/open.js';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createSmtpdTls } from '../../src/daemons/smtpd/tls/server-tls.js';
import { BASE_MAIN_CF, content, eventually, startSmtpd, type Harness } from '../smtpd/harness.js';
import { makePki } from './pki.js';
import { SmtpTestClient, clientCertOpts } from './tls-client.js';

const pki = makePki();
const skip = !pki && 'openssl not available';
after(() => {
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

interface TlsHarness extends Harness {
  readonly tlsLog: MemoryLogger;
  readonly hook: ReturnType<typeof createSmtpdTls>;
}

async function start(mainCf: string): Promise<TlsHarness> {
  const text = `${BASE_MAIN_CF}\nsmtpd_tls_loglevel = 1\n${mainCf}\n`;
  const tlsLog = new MemoryLogger('postfix/smtpd');
  const hook = createSmtpdTls(Config.fromText(text), tlsLog);
  const h = await startSmtpd(`smtpd_tls_loglevel = 1\n${mainCf}`, { extra: { tls: hook } });
  return Object.assign(h, { tlsLog, hook });
}

function run(cmd: string, args: string[], input: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
    child.stdin?.end(input);
  });
}

const sha256 = (pemFile: string): string =>
  createHash('sha256')
    .update(new X509Certificate(readFileSync(pemFile)).raw)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');

test('may: STARTTLS offered, handshake logged as Postfix does, EHLO forgotten', { skip }, async () => {
  const h = await start(`smtpd_tls_security_level = may\nsmtpd_tls_chain_files = ${pki!.rsaChain}`);
  const c = await SmtpTestClient.plain(h.port);
  await c.reply();
  assert.match(await c.cmd('EHLO client.test'), /\n250-STARTTLS\n/);
  assert.equal(await c.cmd('STARTTLS'), '220 2.0.0 Ready to start TLS');
  const s = await c.starttls({ servername: 'mx.example.test', ca: readFileSync(pki!.caCert) });
  assert.ok(s.authorized, 'the server presented the CA-signed certificate');
  assert.doesNotMatch(await c.cmd('EHLO client.test'), /STARTTLS/);
  assert.equal(await c.cmd('STARTTLS'), '554 5.5.1 Error: TLS already active');
  assert.equal(await c.cmd('MAIL FROM:<a@x>'), '250 2.1.0 Ok');
  c.close();
  await h.close();
  assert.ok(
    h.tlsLog
      .texts()
      .some((l) =>
        /^Anonymous TLS connection established from localhost\[127\.0\.0\.1\]: TLSv1\.3 with cipher TLS_AES_\d+_GCM_SHA\d+ \(\d+\/\d+ bits\)$/.test(
          l,
        ),
      ),
    h.tlsLog.texts().join('\n'),
  );
});

test('encrypt: 530 until STARTTLS; openssl s_client -starttls smtp completes a session', { skip }, async () => {
  // s_client writes its whole input at once, so allow the pipelining Postfix 3.7 allows.
  const h = await start(
    `smtpd_tls_security_level = encrypt\nsmtpd_tls_chain_files = ${pki!.rsaChain}\nsmtpd_forbid_unauth_pipelining = no`,
  );
  const c = await SmtpTestClient.plain(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  assert.equal(await c.cmd('MAIL FROM:<a@x>'), '530 5.7.0 Must issue a STARTTLS command first');
  assert.equal(await c.cmd('AUTH PLAIN'), '530 5.7.0 Must issue a STARTTLS command first');
  assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
  c.close();
  const r = await run(
    'openssl',
    [
      's_client',
      '-connect',
      `127.0.0.1:${h.port}`,
      '-starttls',
      'smtp',
      '-quiet',
      '-CAfile',
      pki!.caCert,
      '-verify_return_error',
    ],
    'EHLO sclient.test\r\nMAIL FROM:<a@x>\r\nQUIT\r\n',
  );
  assert.match(r.out, /250 2\.1\.0 Ok/);
  assert.match(r.out, /221 2\.0\.0 Bye/);
  await h.close();
});

test('plaintext injected behind STARTTLS never reaches the TLS session (CVE-2011-0411)', { skip }, async () => {
  // With the hardened default the pipelined STARTTLS is refused outright; test the Postfix 3.7 setting.
  const h = await start(
    `smtpd_tls_security_level = may\nsmtpd_tls_chain_files = ${pki!.rsaChain}\nsmtpd_forbid_unauth_pipelining = no`,
  );
  const c = await SmtpTestClient.plain(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  c.send('STARTTLS\r\nMAIL FROM:<evil@x>\r\n');
  assert.equal(await c.reply(), '220 2.0.0 Ready to start TLS');
  await c.starttls();
  // Had the injected MAIL been executed inside TLS, this would be "nested MAIL command".
  assert.equal(await c.cmd('MAIL FROM:<good@x>'), '250 2.1.0 Ok');
  assert.equal(await c.cmd('RCPT TO:<b@x>'), '250 2.1.5 Ok');
  assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
  await h.close();
  const senders = h.policy.calls.map((x) => x.facts.sender).filter((x) => x !== undefined);
  assert.ok(!senders.includes('evil@x'), `senders seen: ${senders.join(',')}`);
  assert.ok(senders.includes('good@x'));
  assert.ok(h.logs().some((l) => l.startsWith('improper command pipelining after STARTTLS')));
});

test('wrapper mode (SMTPS): python smtplib SMTP_SSL sends a message', { skip }, async () => {
  const h = await start(
    `smtpd_tls_wrappermode = yes\nsmtpd_tls_chain_files = ${pki!.rsaChain}\nsmtpd_tls_received_header = yes`,
  );
  const py = [
    'import smtplib, ssl, sys',
    `ctx = ssl.create_default_context(cafile=${JSON.stringify(pki!.caCert)})`,
    'ctx.check_hostname = False',
    `s = smtplib.SMTP_SSL("127.0.0.1", ${h.port}, context=ctx, timeout=15)`,
    's.ehlo("py.test")',
    'assert "starttls" not in s.esmtp_features, s.esmtp_features',
    's.sendmail("a@x", ["b@x"], "Subject: smtps\\r\\n\\r\\nbody\\r\\n")',
    's.quit()',
    'print("sent")',
  ].join('\n');
  const r = await run('python3', ['-c', py], '');
  assert.equal(r.code, 0, r.out);
  await h.close();
  const m = h.cleanup.committed()[0];
  assert.ok(m);
  assert.match(
    content(m),
    /^Received: from py\.test \(localhost \[127\.0\.0\.1\]\)\r\n\t\(using TLSv1\.3 with cipher \S+ \(\d+\/\d+ bits\)\)\r\n\t\(No client certificate requested\)\r\n\tby mx\.example\.test \(Postern\) with ESMTPS id /,
  );
});

test('client certificates: fingerprints and verification reach the policy facts', { skip }, async () => {
  const h = await start(
    `smtpd_tls_security_level = may\nsmtpd_tls_chain_files = ${pki!.rsaChain}\nsmtpd_tls_ask_ccert = yes\nsmtpd_tls_CAfile = ${pki!.caCert}`,
  );
  for (const [cert, key, verified] of [
    [pki!.clientCert, pki!.clientKey, true],
    [pki!.selfCert, pki!.selfKey, false],
  ] as const) {
    const c = await SmtpTestClient.plain(h.port);
    await c.reply();
    await c.cmd('EHLO x');
    await c.cmd('STARTTLS');
    await c.starttls(clientCertOpts(cert, key));
    await c.cmd('EHLO x');
    assert.equal(await c.cmd('MAIL FROM:<a@x>'), '250 2.1.0 Ok');
    await c.cmd('RCPT TO:<b@x>');
    c.close();
    const facts = h.policy.calls.at(-1)?.facts;
    assert.equal(facts?.tlsCert?.fingerprint, sha256(cert));
    assert.equal(facts?.tlsCert?.verified, verified);
  }
  await h.close();
  assert.ok(h.tlsLog.texts().some((l) => l.startsWith('Trusted TLS connection established from localhost[127.0.0.1]')));
  assert.ok(h.tlsLog.texts().some((l) => l.startsWith('Untrusted TLS connection established from')));
});

test('smtpd_tls_req_ccert refuses a session without a trusted certificate', { skip }, async () => {
  const h = await start(
    `smtpd_tls_security_level = encrypt\nsmtpd_tls_chain_files = ${pki!.rsaChain}\nsmtpd_tls_req_ccert = yes\nsmtpd_tls_CAfile = ${pki!.caCert}`,
  );
  const c = await SmtpTestClient.plain(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  await c.cmd('STARTTLS');
  await c.starttls();
  assert.equal(await c.reply(), '421 4.7.1 mx.example.test Error: No client certificate presented');
  const ok = await SmtpTestClient.plain(h.port);
  await ok.reply();
  await ok.cmd('EHLO x');
  await ok.cmd('STARTTLS');
  await ok.starttls(clientCertOpts(pki!.clientCert, pki!.clientKey));
  assert.match(await ok.cmd('EHLO x'), /^250-mx\.example\.test/);
  ok.close();
  await h.close();
  assert.ok(h.logs().includes('NOQUEUE: abort: TLS from localhost[127.0.0.1]: No client certificate presented'));
});

test('protocol range and RSA/ECDSA certificates side by side', { skip }, async () => {
  const h = await start(
    `smtpd_tls_security_level = may\nsmtpd_tls_chain_files = ${pki!.rsaChain}, ${pki!.ecChain}\nsmtpd_tls_protocols = >=TLSv1.2, <=TLSv1.2`,
  );
  const keyTypes: string[] = [];
  for (const sigalgs of ['ECDSA+SHA256', 'RSA-PSS+SHA256:RSA+SHA256']) {
    const c = await SmtpTestClient.plain(h.port);
    await c.reply();
    await c.cmd('EHLO x');
    await c.cmd('STARTTLS');
    const s = await c.starttls({ sigalgs, maxVersion: 'TLSv1.3' });
    assert.equal(s.getProtocol(), 'TLSv1.2');
    keyTypes.push(s.getPeerX509Certificate()?.publicKey.asymmetricKeyType ?? '');
    c.close();
  }
  assert.deepEqual(keyTypes, ['ec', 'rsa']);
  // A client limited to TLS 1.3 finds no common protocol.
  const c = await SmtpTestClient.plain(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  await c.cmd('STARTTLS');
  await assert.rejects(c.starttls({ minVersion: 'TLSv1.3' }));
  await h.close();
  assert.ok(await eventually(() => h.logs().some((l) => l.startsWith('SSL_accept error from localhost[127.0.0.1]'))));
});

test('reload swaps the certificate for new sessions and keeps the open one', { skip }, async () => {
  const base = 'smtpd_tls_security_level = may\n';
  const h = await start(`${base}smtpd_tls_chain_files = ${pki!.rsaChain}`);
  const first = await SmtpTestClient.plain(h.port);
  await first.reply();
  await first.cmd('EHLO x');
  await first.cmd('STARTTLS');
  const s1 = await first.starttls();
  assert.equal(s1.getPeerX509Certificate()?.subject, 'CN=mx.example.test');
  h.hook.reload(Config.fromText(`${BASE_MAIN_CF}\n${base}smtpd_tls_chain_files = ${pki!.rsa2Chain}\n`));
  const second = await SmtpTestClient.plain(h.port);
  await second.reply();
  await second.cmd('EHLO x');
  await second.cmd('STARTTLS');
  const s2 = await second.starttls();
  assert.equal(s2.getPeerX509Certificate()?.subject, 'CN=mx2.example.test');
  assert.equal(await first.cmd('NOOP'), '250 2.0.0 Ok');
  // A broken file on reload keeps the running certificate.
  h.hook.reload(Config.fromText(`${BASE_MAIN_CF}\n${base}smtpd_tls_chain_files = /nonexistent/chain.pem\n`));
  assert.ok(h.tlsLog.texts().some((l) => l.includes('/nonexistent/chain.pem')));
  first.close();
  second.close();
  await h.close();
});

test('swaks --tls delivers over STARTTLS', { skip }, async () => {
  const h = await start(`smtpd_tls_security_level = may\nsmtpd_tls_chain_files = ${pki!.rsaChain}`);
  const r = await run(
    'swaks',
    ['--server', `127.0.0.1:${h.port}`, '--to', 'b@x', '--from', 'a@x', '--tls', '--helo', 'swaks.test'],
    '',
  );
  assert.equal(r.code, 0, r.out);
  await h.close();
  assert.equal(h.cleanup.committed().length, 1);
  assert.equal(h.cleanup.committed()[0]?.req.client?.protocol, 'ESMTPS');
});

test('tls_server_sni_maps picks the chain for the name the client asks for', { skip }, async () => {
  const sni = join(pki!.dir, 'sni');
  // postmap -F stores each file's contents base64-encoded.
  writeFileSync(sni, `mx2.example.test ${Buffer.from(readFileSync(pki!.rsa2Chain)).toString('base64')}\n`);
  const cf = `smtpd_tls_security_level = may\nsmtpd_tls_chain_files = ${pki!.rsaChain}\ntls_server_sni_maps = texthash:${sni}`;
  const config = Config.fromText(`${BASE_MAIN_CF}\n${cf}\n`);
  const hook = createSmtpdTls(config, new MemoryLogger('postfix/smtpd'), { openDict: (s) => openDict(s, { config }) });
  const h = await startSmtpd(cf, { extra: { tls: hook } });
  const subjects: string[] = [];
  for (const servername of ['mx2.example.test', 'other.example.test']) {
    const c = await SmtpTestClient.plain(h.port);
    await c.reply();
    await c.cmd('EHLO x');
    await c.cmd('STARTTLS');
    const s = await c.starttls({ servername });
    subjects.push(s.getPeerX509Certificate()?.subject ?? '');
    c.close();
  }
  await h.close();
  assert.deepEqual(subjects, ['CN=mx2.example.test', 'CN=mx.example.test']);
});
