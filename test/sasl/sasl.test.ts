// SMTP AUTH end to end with smtpd_sasl_type = postern (users and hashes in a
// texthash table): python smtplib starttls()+login(), swaks --auth, the
// failure reply and log line (never the password), smtpd_tls_auth_only,
// noplaintext, broken_sasl_auth_clients, the AUTH rate limit and the
// authenticated Received: header.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { encrypt as sha512crypt } from 'unixcrypt';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { openDict } from '../../src/global/dict/open.js';
import { createSmtpdAuth } from '../../src/daemons/smtpd/sasl/server-auth.js';
import { createSmtpdTls } from '../../src/daemons/smtpd/tls/server-tls.js';
import { BASE_MAIN_CF, content, startSmtpd, type Harness } from '../smtpd/harness.js';
import { makePki } from '../tls/pki.js';
import { SmtpTestClient } from '../tls/tls-client.js';

const pki = makePki();
const dir = mkdtempSync(join(tmpdir(), 'postern-sasl-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

/** openssl's own SHA-512-crypt, so the hash format is checked against another implementation. */
function opensslSha512(pw: string): string {
  try {
    return execFileSync('openssl', ['passwd', '-6', '-salt', 'Zx9yQ2', pw], { encoding: 'utf8' }).trim();
  } catch {
    return sha512crypt(pw, '$6$Zx9yQ2');
  }
}

const users = join(dir, 'users');
writeFileSync(
  users,
  [
    `alice ${bcrypt.hashSync('wonder land', 4).replace(/^\$2b\$/, '$2y$')}`,
    `bob {SHA512-CRYPT}${opensslSha512('b0b-secret')}`,
    'carol {PLAIN}c4rol',
    'dave {ROT13}qnir',
    'erin@realm.example {PLAIN}e1',
    '',
  ].join('\n'),
);

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

async function start(mainCf: string, withTls = false): Promise<Harness & { saslLog: MemoryLogger }> {
  const cf = [
    'smtpd_sasl_auth_enable = yes',
    'smtpd_sasl_type = postern',
    `smtpd_sasl_path = texthash:${users}`,
    ...(withTls && pki ? ['smtpd_tls_security_level = may', `smtpd_tls_chain_files = ${pki.rsaChain}`] : []),
    mainCf,
  ].join('\n');
  const config = Config.fromText(`${BASE_MAIN_CF}\n${cf}\n`);
  const saslLog = new MemoryLogger('postfix/smtpd');
  const auth = createSmtpdAuth(config, (spec) => openDict(spec, { config }), saslLog);
  await auth.ready();
  const tls = withTls ? createSmtpdTls(config, saslLog) : undefined;
  const h = await startSmtpd(cf, { extra: { auth, ...(tls ? { tls } : {}) } });
  return Object.assign(h, { saslLog });
}

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

test('PLAIN and LOGIN against bcrypt, SHA512-CRYPT and {PLAIN} entries', async () => {
  const h = await start('');
  const c = await SmtpTestClient.plain(h.port);
  await c.reply();
  assert.match(await c.cmd('EHLO x'), /\n250-AUTH PLAIN LOGIN\n/);
  assert.equal(await c.cmd(`AUTH PLAIN ${b64('\0alice\0wonder land')}`), '235 2.7.0 Authentication successful');
  assert.equal(await c.cmd('AUTH PLAIN'), '503 5.5.1 Error: already authenticated');
  await c.cmd('MAIL FROM:<alice@x>');
  await c.cmd('RCPT TO:<b@x>');
  c.close();
  for (const [user, pw] of [
    ['bob', 'b0b-secret'],
    ['carol', 'c4rol'],
  ]) {
    const l = await SmtpTestClient.plain(h.port);
    await l.reply();
    await l.cmd('EHLO x');
    assert.equal(await l.cmd('AUTH LOGIN'), '334 VXNlcm5hbWU6');
    assert.equal(await l.cmd(b64(user!)), '334 UGFzc3dvcmQ6');
    assert.equal(await l.cmd(b64(pw!)), '235 2.7.0 Authentication successful');
    l.close();
  }
  await h.close();
  assert.ok(
    h.logs().some((l) => /: client=localhost\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=alice$/.test(l)),
  );
});

test('smtpd_sasl_local_domain completes a bare login name; MAIL FROM AUTH= is logged as sasl_sender', async () => {
  const h = await start('smtpd_sasl_local_domain = realm.example');
  const c = await SmtpTestClient.plain(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  assert.equal(await c.cmd(`AUTH PLAIN ${b64('\0erin\0e1')}`), '235 2.7.0 Authentication successful');
  assert.equal(await c.cmd('MAIL FROM:<erin@x> AUTH=erin+2Bbox@realm.example'), '250 2.1.0 Ok');
  assert.equal(await c.cmd('RCPT TO:<b@x>'), '250 2.1.5 Ok');
  await c.cmd('RSET');
  assert.equal(await c.cmd('MAIL FROM:<erin@x> AUTH=<>'), '250 2.1.0 Ok');
  assert.equal(await c.cmd('MAIL FROM:<erin@x> AUTH=<> AUTH=<>'), '503 5.5.1 Error: nested MAIL command');
  c.close();
  // A name that already has a realm is looked up as given.
  const other = await SmtpTestClient.plain(h.port);
  await other.reply();
  await other.cmd('EHLO x');
  assert.equal(await other.cmd(`AUTH PLAIN ${b64('\0erin@realm.example\0e1')}`), '235 2.7.0 Authentication successful');
  other.close();
  await h.close();
  const logs = h.logs().join('\n');
  assert.match(
    logs,
    /: client=localhost\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=erin@realm\.example, sasl_sender=erin\+box@realm\.example$/m,
  );
});

test('failed AUTH: 535, a warning without the payload, counted as an error', async () => {
  const h = await start('smtpd_hard_error_limit = 4');
  const c = await SmtpTestClient.plain(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  assert.equal(
    await c.cmd(`AUTH PLAIN ${b64('\0alice\0not-the-password')}`),
    '535 5.7.8 Error: authentication failed: authentication failure',
  );
  assert.equal(await c.cmd('AUTH LOGIN'), '334 VXNlcm5hbWU6');
  assert.equal(await c.cmd('*'), '501 5.7.0 Authentication aborted');
  assert.equal(await c.cmd('AUTH PLAIN !!!'), '501 5.5.2 Cannot decode response');
  // An unknown hash scheme fails closed and tells the administrator, not the client.
  assert.equal(
    await c.cmd(`AUTH PLAIN ${b64('\0dave\0dave')}`),
    '535 5.7.8 Error: authentication failed: authentication failure',
  );
  // Failures count toward smtpd_hard_error_limit like any other error reply.
  assert.equal(await c.cmd('NOOP'), '421 4.7.0 mx.example.test Error: too many errors');
  await h.close();
  const log = h.saslLog.texts().join('\n');
  assert.match(log, /^warning: localhost\[127\.0\.0\.1\]: SASL PLAIN authentication failed: authentication failure$/m);
  assert.match(log, /^warning: localhost\[127\.0\.0\.1\]: SASL LOGIN authentication failed: aborted by client$/m);
  assert.match(log, /^warning: SASL user dave: unsupported password scheme \{ROT13\}$/m);
  assert.doesNotMatch(log + h.logs().join('\n'), /not-the-password|bm90LXRoZS1wYXNzd29yZA/);
});

test(
  'python smtplib: starttls() then login() and send; Authenticated sender header',
  { skip: !pki && 'no openssl' },
  async () => {
    const h = await start('smtpd_tls_auth_only = yes\nsmtpd_sasl_authenticated_header = yes', true);
    const py = [
      'import smtplib, ssl',
      `s = smtplib.SMTP("127.0.0.1", ${h.port}, timeout=15)`,
      's.ehlo("py.test")',
      'assert "auth" not in s.esmtp_features, s.esmtp_features',
      'code, msg = s.docmd("AUTH", "PLAIN " + __import__("base64").b64encode(b"\\0carol\\0c4rol").decode())',
      'assert code == 504, (code, msg)',
      'ctx = ssl.create_default_context()',
      'ctx.check_hostname = False',
      'ctx.verify_mode = ssl.CERT_NONE',
      's.starttls(context=ctx)',
      's.ehlo("py.test")',
      'assert "PLAIN" in s.esmtp_features["auth"], s.esmtp_features',
      's.login("carol", "c4rol")',
      's.sendmail("carol@x", ["b@x"], "Subject: auth\\r\\n\\r\\nbody\\r\\n")',
      's.quit()',
    ].join('\n');
    const r = await run('python3', ['-c', py]);
    assert.equal(r.code, 0, r.out);
    await h.close();
    const m = h.cleanup.committed()[0];
    assert.ok(m);
    assert.equal(m.req.client?.protocol, 'ESMTPSA');
    assert.match(
      content(m),
      /\r\n\t\(Authenticated sender: carol\)\r\n\tby mx\.example\.test \(Postern\) with ESMTPSA id /,
    );
  },
);

test('swaks --auth LOGIN over --tls', { skip: !pki && 'no openssl' }, async () => {
  const h = await start('', true);
  const r = await run('swaks', [
    '--server',
    `127.0.0.1:${h.port}`,
    '--tls',
    '--auth',
    'LOGIN',
    '--auth-user',
    'bob',
    '--auth-password',
    'b0b-secret',
    '--from',
    'bob@x',
    '--to',
    'c@x',
  ]);
  assert.equal(r.code, 0, r.out);
  await h.close();
  assert.equal(h.cleanup.committed()[0]?.req.client?.saslUsername, 'bob');
});

test(
  'noplaintext hides PLAIN/LOGIN until TLS; broken_sasl_auth_clients adds AUTH=',
  { skip: !pki && 'no openssl' },
  async () => {
    const h = await start(
      'smtpd_sasl_security_options = noanonymous, noplaintext\nsmtpd_sasl_tls_security_options = noanonymous\nbroken_sasl_auth_clients = yes',
      true,
    );
    const c = await SmtpTestClient.plain(h.port);
    await c.reply();
    assert.doesNotMatch(await c.cmd('EHLO x'), /AUTH/);
    assert.equal(await c.cmd(`AUTH PLAIN ${b64('\0carol\0c4rol')}`), '503 5.5.1 Error: authentication not enabled');
    await c.cmd('STARTTLS');
    await c.starttls();
    assert.match(await c.cmd('EHLO x'), /\n250-AUTH PLAIN LOGIN\n250-AUTH=PLAIN LOGIN\n/);
    assert.equal(await c.cmd(`AUTH PLAIN ${b64('\0carol\0c4rol')}`), '235 2.7.0 Authentication successful');
    c.close();
    await h.close();
  },
);

test('smtpd_client_auth_rate_limit throttles AUTH brute force', async () => {
  const h = await start('smtpd_client_auth_rate_limit = 3\nsmtpd_hard_error_limit = 100\nsmtpd_soft_error_limit = 100');
  const c = await SmtpTestClient.plain(h.port);
  await c.reply();
  await c.cmd('EHLO x');
  const replies: string[] = [];
  for (let i = 0; i < 5; i++) replies.push(await c.cmd(`AUTH PLAIN ${b64(`\0carol\0guess${i}`)}`));
  assert.deepEqual(
    replies.slice(0, 3),
    Array(3).fill('535 5.7.8 Error: authentication failed: authentication failure'),
  );
  assert.deepEqual(replies.slice(3), Array(2).fill('450 4.7.1 Error: too many AUTH commands from 127.0.0.1'));
  c.close();
  await h.close();
  assert.ok(
    h.saslLog
      .texts()
      .some((l) => /^warning: AUTH command rate limit exceeded: 4 from localhost\[127\.0\.0\.1\] for service /.test(l)),
  );
});

test('smtpd_sasl_type = postern without a table is a configuration error naming the parameter', () => {
  const config = Config.fromText(`${BASE_MAIN_CF}\nsmtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = postern\n`);
  assert.throws(
    () => createSmtpdAuth(config, (s) => openDict(s), new MemoryLogger('x')),
    /smtpd_sasl_path = type:table/,
  );
});
