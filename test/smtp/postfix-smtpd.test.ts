// The smtp client against Debian's real Postfix 3.7 smtpd, run as a private
// instance (its own config and queue directory in a temp dir, smtpd on a
// free loopback port, no qmgr so mail stays in `incoming` for postcat to
// read). Checks STARTTLS at level encrypt and fingerprint, and that DSN
// parameters (NOTIFY, ORCPT, ENVID, RET) arrive in Postfix's queue file.
// Postfix's master must start as root; otherwise this is skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeAgent, makeRequest } from './harness.js';

const canRun = existsSync('/usr/sbin/postfix') && existsSync('/usr/sbin/postcat') && process.getuid?.() === 0;
const skip = !canRun && "needs root and Debian's postfix package (/usr/sbin/postfix, postcat)";
let dir = '';
let port = 0;
const etc = (): string => join(dir, 'etc');

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const p = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return p;
}

async function accepting(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port: p }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

before(async () => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), 'postern-pfsink-'));
  chmodSync(dir, 0o755);
  mkdirSync(etc());
  mkdirSync(join(dir, 'queue'));
  mkdirSync(join(dir, 'data'));
  execFileSync('chown', ['postfix', join(dir, 'data')]);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
      '-days',
      '2',
      '-subj',
      '/CN=sink.test',
    ],
    { cwd: etc(), stdio: 'ignore' },
  );
  writeFileSync(
    join(etc(), 'chain.pem'),
    readFileSync(join(etc(), 'key.pem'), 'utf8') + readFileSync(join(etc(), 'cert.pem'), 'utf8'),
  );
  port = await freePort();
  writeFileSync(
    join(etc(), 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${dir}/queue`,
      `data_directory = ${dir}/data`,
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'myhostname = sink.test',
      'mydestination =',
      'mynetworks = 127.0.0.0/8',
      'smtpd_relay_restrictions = permit_mynetworks, reject',
      'smtpd_tls_security_level = may',
      `smtpd_tls_chain_files = ${etc()}/chain.pem`,
      'maillog_file_prefixes = /tmp, /var',
      `maillog_file = ${dir}/maillog`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(etc(), 'master.cf'),
    [
      `127.0.0.1:${port} inet n - n - - smtpd`,
      'cleanup unix n - n - 0 cleanup',
      'rewrite unix - - n - - trivial-rewrite',
      'proxymap unix - - n - - proxymap',
      'anvil unix - - n - 1 anvil',
      'tlsmgr unix - - n 1000? 1 tlsmgr',
      'postlog unix-dgram n - n - 1 postlogd',
      '',
    ].join('\n'),
  );
  execFileSync('/usr/sbin/postfix', ['-c', etc(), 'check'], { stdio: 'ignore' });
  execFileSync('/usr/sbin/postfix', ['-c', etc(), 'start'], { stdio: 'ignore' });
  for (let i = 0; i < 200 && !(await accepting(port)); i++) await new Promise((r) => setTimeout(r, 50));
});

after(async () => {
  if (!dir) return;
  try {
    execFileSync('/usr/sbin/postfix', ['-c', etc(), 'stop'], { stdio: 'ignore' });
    for (let i = 0; i < 100 && (await accepting(port)); i++) await new Promise((r) => setTimeout(r, 50));
  } catch {
    // Not running.
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Postfix's own record of the queued message (`postcat -e`). */
function postcat(reason: string): string {
  const id = /queued as ([0-9A-Za-z]+)/.exec(reason)?.[1] ?? '';
  return execFileSync('/usr/sbin/postcat', ['-c', etc(), '-e', '-q', id], { encoding: 'utf8' });
}

test('encrypt to Postfix smtpd: TLS is logged, DSN parameters land in its queue file', { skip }, async () => {
  const { agent, log } = makeAgent('smtp_tls_security_level = encrypt');
  const req = makeRequest(`[127.0.0.1]:${port}`, [], {
    sender: 'sender@client.test',
    envid: 'env-42',
    ret: 'HDRS',
    recipients: [
      {
        address: 'rcpt@dest.test',
        original: 'rcpt@dest.test',
        index: 0,
        notify: ['SUCCESS', 'FAILURE'],
        orcpt: 'orig@x.test',
      },
    ],
  });
  const [o] = await agent.deliver(req);
  await agent.close();
  assert.equal(o?.status, 'sent', `${o?.reason}`);
  assert.equal(o?.dsnSuccess, 'passed-on');
  assert.ok(
    log
      .texts()
      .some((t) =>
        new RegExp(
          `^Untrusted TLS connection established to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${port}: TLSv1\\.3 with cipher `,
        ).test(t),
      ),
    log.texts().join('\n'),
  );
  const env = postcat(o?.reason ?? '');
  assert.match(env, /^sender: sender@client\.test$/m);
  assert.match(env, /^recipient: rcpt@dest\.test$/m);
  // NOTIFY=SUCCESS,FAILURE is Postfix's flag set 2|4.
  assert.match(env, /notify_flags=6$/m);
  assert.match(env, /dsn_orig_rcpt=rfc822;orig@x\.test$/m);
  assert.match(env, /envelope_id=env-42$/m);
  // RET=HDRS is Postfix's ret_flags 2.
  assert.match(env, /ret_flags=2$/m);
});

test('fingerprint level against Postfix smtpd: its certificate digest verifies it', { skip }, async () => {
  const x = new X509Certificate(readFileSync(join(etc(), 'cert.pem')));
  const fp = createHash('sha256')
    .update(x.raw)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
  const { agent, log } = makeAgent(
    `compatibility_level = 3.6\nsmtp_tls_security_level = fingerprint\nsmtp_tls_fingerprint_cert_match = ${fp}`,
  );
  const [o] = await agent.deliver(makeRequest(`[127.0.0.1]:${port}`, ['b@dest.test']));
  await agent.close();
  assert.equal(o?.status, 'sent', o?.reason);
  assert.ok(
    log.texts().some((t) => t.startsWith(`Verified TLS connection established to 127.0.0.1[127.0.0.1]:${port}`)),
  );
});
