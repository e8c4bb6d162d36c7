// End to end: a stock-style `submission` entry in master.cf (STARTTLS
// required, AUTH only over TLS, clients must authenticate) served by
// `postfix start`, driven by swaks with --tls --auth. An authenticated client
// relays to the recording receiver; without TLS the server answers 530, and
// with a wrong password 535. Exercises the smtpd service's TLS/SASL wiring.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../master/harness.js';
import { makePki } from '../tls/pki.js';
import { e2eSkip, run, startMailSystem, swaks } from './harness.js';
import { RecordingReceiver } from './recording-receiver.js';

const pki = makePki();
after(() => {
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

test(
  'submission: STARTTLS required, AUTH over TLS, authenticated relay delivered',
  { skip: e2eSkip('swaks') || (!pki && 'no openssl') },
  async () => {
    if (!pki) return;
    // The worker reads its certificate as mail_owner (nobody when root runs the tests).
    chmodSync(pki.dir, 0o755);
    for (const f of readdirSync(pki.dir)) chmodSync(join(pki.dir, f), 0o644);
    const users = join(pki.dir, 'sasl-users');
    writeFileSync(users, 'carol {PLAIN}c4rol\n', { mode: 0o644 });
    const receiver = await RecordingReceiver.start({});
    const submissionPort = await freePort();
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination = $myhostname, localhost
mynetworks = 127.0.0.2/32
relayhost = [127.0.0.1]:${receiver.port}
smtpd_tls_chain_files = ${pki.rsaChain}
smtpd_tls_loglevel = 1
smtpd_sasl_type = postern
smtpd_sasl_path = texthash:${users}
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination`,
      masterCfExtra: `127.0.0.1:${submissionPort} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
`,
    });
    try {
      // Without STARTTLS the submission service refuses the transaction.
      const plain = await run('swaks', [
        '--server',
        `127.0.0.1:${submissionPort}`,
        '--from',
        'carol@example.test',
        '--to',
        'x@remote.test',
      ]);
      assert.match(plain.stdout, /<\*\* 530 5\.7\.0 Must issue a STARTTLS command first/);

      // A wrong password is refused after TLS.
      const wrong = await run('swaks', [
        '--server',
        `127.0.0.1:${submissionPort}`,
        '--tls',
        '--auth',
        'PLAIN',
        '--auth-user',
        'carol',
        '--auth-password',
        'wrong',
        '--from',
        'carol@example.test',
        '--to',
        'x@remote.test',
      ]);
      assert.match(wrong.stdout, /<~\* 535 5\.7\.8 Error: authentication failed/);

      // TLS + AUTH relays, and the message reaches the receiver.
      const id = await swaks(submissionPort, 'carol@example.test', 'dave@remote.test', [
        '--tls',
        '--auth',
        'PLAIN',
        '--auth-user',
        'carol',
        '--auth-password',
        'c4rol',
      ]);
      const [msg] = await receiver.waitFor(1);
      assert.deepEqual(msg?.rcptTo, ['dave@remote.test']);
      assert.match(msg?.data ?? '', /with ESMTPSA id /);
      const log = await sys.waitForLog(new RegExp(`${id}: to=<dave@remote\\.test>, .*status=sent`));
      assert.match(log, /postfix\/submission\/smtpd\[\d+\]: .*TLS connection established from/);
      assert.match(
        log,
        new RegExp(`postfix/submission/smtpd\\[\\d+\\]: ${id}: client=.*sasl_method=PLAIN, sasl_username=carol`),
      );
      assert.match(log, /warning: .*SASL PLAIN authentication failed/);
      assert.doesNotMatch(log, /wrong/);

      // The plain smtpd entry of the same system offers neither STARTTLS nor AUTH (level none by default).
      const ehlo = await run('swaks', ['--server', `127.0.0.1:${sys.port}`, '--quit-after', 'EHLO']);
      assert.doesNotMatch(ehlo.stdout, /250-(STARTTLS|AUTH)/);
    } finally {
      await sys.cleanup();
      await receiver.close();
    }
  },
);
