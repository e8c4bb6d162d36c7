// The restrictions that read TLS and SASL facts: permit_tls_clientcerts
// (relay_clientcerts), permit_tls_all_clientcerts, check_ccert_access, and
// reject_*_sender_login_mismatch with smtpd_sender_login_maps, evaluated by
// the real policy with in-memory tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createSmtpdPolicy } from '../../src/daemons/smtpd/restrictions/index.js';
import type { PolicyVerdict, SessionFacts } from '../../src/daemons/smtpd/policy-api.js';
import { DictSet, FakeResolver, facts } from '../restrictions/harness.js';

const BASE =
  'compatibility_level = 3.7\nmyhostname = mail.example.com\nmydomain = example.com\nmynetworks = 127.0.0.0/8\n';
const FP = 'AA:BB:CC';
const PK = '11:22:33';

function policy(mainCf: string, dicts: DictSet) {
  return createSmtpdPolicy({
    config: Config.fromText(BASE + mainCf),
    openDict: dicts.opener,
    resolver: new FakeResolver(),
    logger: new MemoryLogger('postfix/smtpd'),
  });
}

const replyOf = (v: PolicyVerdict): string =>
  v.action === 'reject' ? `${v.reply.code} ${v.reply.dsn} ${v.reply.text}` : v.action;

const cert = (verified: boolean): Partial<SessionFacts> => ({
  tls: true,
  tlsCert: { subjectCN: 'c', issuerCN: 'ca', fingerprint: FP, pubkeyFingerprint: PK, verified },
});

test('permit_tls_clientcerts relays for a listed fingerprint only', async () => {
  const dicts = new DictSet();
  dicts.get('hash:/etc/postfix/relay_clientcerts').set(PK, 'client.example');
  const p = policy(
    'relay_clientcerts = hash:/etc/postfix/relay_clientcerts\nsmtpd_relay_restrictions = permit_tls_clientcerts, reject_unauth_destination\n',
    dicts,
  );
  const rcpt = { sender: 'a@example.org', recipient: 'x@elsewhere.test' };
  // A permit in the relay list is not a reject; the recipient list then has its say (empty: dunno).
  assert.equal(replyOf(await p.check('rcpt', facts({ ...rcpt, ...cert(false) }))), 'dunno');
  assert.equal(
    replyOf(await p.check('rcpt', facts({ ...rcpt, tls: true }))),
    '554 5.7.1 <x@elsewhere.test>: Relay access denied',
  );
});

test('permit_tls_all_clientcerts needs a verified certificate', async () => {
  const p = policy('smtpd_relay_restrictions = permit_tls_all_clientcerts, reject_unauth_destination\n', new DictSet());
  const rcpt = { sender: 'a@example.org', recipient: 'x@elsewhere.test' };
  assert.equal(replyOf(await p.check('rcpt', facts({ ...rcpt, ...cert(true) }))), 'dunno');
  assert.match(
    replyOf(await p.check('rcpt', facts({ ...rcpt, ...cert(false) }))),
    /^554 5\.7\.1 .*Relay access denied$/,
  );
});

test('check_ccert_access looks up the certificate, then the public key fingerprint', async () => {
  const dicts = new DictSet();
  dicts.get('hash:ccert').set(FP, 'REJECT certificate revoked');
  const p = policy('smtpd_client_restrictions = check_ccert_access hash:ccert\n', dicts);
  assert.equal(
    replyOf(await p.check('connect', facts(cert(true)))),
    '554 5.7.1 <unknown[192.0.2.99]>: Client host rejected: certificate revoked',
  );
  assert.deepEqual(dicts.get('hash:ccert').lookups, [FP]);
  dicts.get('hash:ccert').lookups.length = 0;
  const other = { ...cert(true), tlsCert: { ...cert(true).tlsCert!, fingerprint: 'DD:EE' } };
  assert.equal(replyOf(await p.check('connect', facts(other))), 'dunno');
  assert.deepEqual(dicts.get('hash:ccert').lookups, ['DD:EE', PK]);
});

test('reject_sender_login_mismatch and its variants', async () => {
  const dicts = new DictSet();
  dicts.get('hash:logins').set('alice@example.com', 'alice, alice2').set('@shared.example', 'bob');
  const mk = (r: string) =>
    policy(`recipient_delimiter = +\nsmtpd_sender_login_maps = hash:logins\nsmtpd_sender_restrictions = ${r}\n`, dicts);
  const both = mk('reject_sender_login_mismatch');
  assert.equal(
    replyOf(await both.check('mail', facts({ sender: 'alice@example.com', saslUsername: 'alice2' }))),
    'dunno',
  );
  assert.equal(
    replyOf(await both.check('mail', facts({ sender: 'alice@example.com', saslUsername: 'bob' }))),
    '553 5.7.1 <alice@example.com>: Sender address rejected: not owned by user bob',
  );
  assert.equal(
    replyOf(await both.check('mail', facts({ sender: 'alice@example.com' }))),
    '553 5.7.1 <alice@example.com>: Sender address rejected: not logged in',
  );
  assert.equal(
    replyOf(await both.check('mail', facts({ sender: 'anyone@shared.example', saslUsername: 'bob' }))),
    'dunno',
  );
  assert.equal(
    replyOf(await both.check('mail', facts({ sender: 'alice+tag@example.com', saslUsername: 'alice' }))),
    'dunno',
  );
  // An unlisted sender is refused to a logged-in user, but not by the "known" variant.
  assert.match(
    replyOf(await both.check('mail', facts({ sender: 'x@other.test', saslUsername: 'bob' }))),
    /not owned by user bob$/,
  );
  const known = mk('reject_known_sender_login_mismatch');
  assert.equal(replyOf(await known.check('mail', facts({ sender: 'x@other.test', saslUsername: 'bob' }))), 'dunno');
  const unauth = mk('reject_unauthenticated_sender_login_mismatch');
  assert.equal(
    replyOf(await unauth.check('mail', facts({ sender: 'alice@example.com', saslUsername: 'bob' }))),
    'dunno',
  );
  assert.match(replyOf(await unauth.check('mail', facts({ sender: 'alice@example.com' }))), /not logged in$/);
  const authd = mk('reject_authenticated_sender_login_mismatch');
  assert.equal(replyOf(await authd.check('mail', facts({ sender: 'alice@example.com' }))), 'dunno');
  assert.equal(replyOf(await authd.check('mail', facts({ sender: '', saslUsername: 'bob' }))), 'dunno');
});
