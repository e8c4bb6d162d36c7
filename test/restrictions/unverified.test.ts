// reject_unverified_recipient and reject_unverified_sender against a
// scripted verify(8) service: Postfix's reply texts and enhanced codes for
// each answer (in progress, deferred, undeliverable, deliverable, service
// down), the reject/defer codes, the fixed reject reason, the tempfail
// action, warn_if_reject, polling, and the probe sender's exemption.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createSmtpdPolicy } from '../../src/daemons/smtpd/restrictions/index.js';
import type { PolicyVerdict } from '../../src/daemons/smtpd/policy-api.js';
import type { AddressVerifier, VerifyAnswer, VerifyStatus } from '../../src/daemons/verify/verify-api.js';
import { DictSet, FakeResolver, facts } from './harness.js';

const BASE =
  'compatibility_level = 3.7\nmyhostname = mail.example.com\nmydomain = example.com\nmynetworks = 127.0.0.0/8\n' +
  'local_recipient_maps =\nrelay_domains = example.net\naddress_verify_poll_delay = 1s\n';

class FakeVerifier implements AddressVerifier {
  readonly queries: string[] = [];
  settles = 0;
  negativeCache = true;
  /** Answers per address, used in turn; the last one repeats. */
  constructor(private readonly script: Record<string, VerifyAnswer[]>) {}
  query(address: string): Promise<VerifyAnswer> {
    this.queries.push(address);
    const list = this.script[address] ?? [{ status: 'todo', text: 'Address verification in progress' }];
    return Promise.resolve((list.length > 1 ? list.shift() : list[0]) as VerifyAnswer);
  }
  update(): Promise<void> {
    return Promise.resolve();
  }
  settled(): Promise<void> {
    this.settles++;
    return Promise.resolve();
  }
}

const said = (status: VerifyStatus, text: string): VerifyAnswer => ({ status, text });
const BOB_550 =
  'host mx.example.net[192.0.2.7] said: 550 5.1.1 <bob@example.net>: User unknown (in reply to RCPT TO command)';

function policy(mainCf: string, verifier: AddressVerifier | undefined) {
  const logger = new MemoryLogger('postfix/smtpd');
  const p = createSmtpdPolicy({
    config: Config.fromText(BASE + mainCf),
    openDict: new DictSet().opener,
    resolver: new FakeResolver(),
    logger,
    localAddresses: ['127.0.0.1'],
    verifier: () => verifier,
  });
  return { p, logger };
}

function replyOf(v: PolicyVerdict): string {
  return v.action === 'reject' ? `${v.reply.code} ${v.reply.dsn} ${v.reply.text}` : v.action;
}

const RCPT = 'smtpd_recipient_restrictions = reject_unauth_destination, reject_unverified_recipient\n';

test('an undeliverable recipient: 450 "unverified address" by default, 550 "undeliverable address" with reject code 550', async () => {
  const v = new FakeVerifier({ 'bob@example.net': [said('bounce', BOB_550)] });
  const rcpt = facts({ sender: 'a@example.org', recipient: 'bob@example.net', helo: 'client.example.org' });
  const { p, logger } = policy(RCPT, v);
  const verdict = await p.check('rcpt', rcpt);
  assert.equal(
    replyOf(verdict),
    `450 4.1.1 <bob@example.net>: Recipient address rejected: unverified address: ${BOB_550}`,
  );
  assert.ok(verdict.action === 'reject');
  assert.equal(
    verdict.logText,
    `reject: RCPT from unknown[192.0.2.99]: 450 4.1.1 <bob@example.net>: Recipient address rejected: unverified address: ${BOB_550}; from=<a@example.org> to=<bob@example.net> proto=ESMTP helo=<client.example.org>`,
  );
  assert.equal(logger.lines.filter((l) => l.severity === 'warning').length, 0);
  const hard = policy(RCPT + 'unverified_recipient_reject_code = 550\n', v).p;
  assert.equal(
    replyOf(await hard.check('rcpt', rcpt)),
    `550 5.1.1 <bob@example.net>: Recipient address rejected: undeliverable address: ${BOB_550}`,
  );
  const fixed = policy(
    RCPT + 'unverified_recipient_reject_code = 550\nunverified_recipient_reject_reason = Address lookup failed\n',
    v,
  ).p;
  assert.equal(
    replyOf(await fixed.check('rcpt', rcpt)),
    '550 5.1.1 <bob@example.net>: Recipient address rejected: undeliverable address: Address lookup failed',
  );
});

test('a deliverable recipient passes; a probe in progress is polled, then deferred', async () => {
  const ok = new FakeVerifier({ 'alice@example.net': [said('ok', '250 2.1.5 Ok')] });
  assert.equal((await policy(RCPT, ok).p.check('rcpt', facts({ recipient: 'alice@example.net' }))).action, 'dunno');

  const later = new FakeVerifier({
    'carol@example.net': [said('todo', 'Address verification in progress'), said('ok', 'fine')],
  });
  assert.equal((await policy(RCPT, later).p.check('rcpt', facts({ recipient: 'carol@example.net' }))).action, 'dunno');
  assert.deepEqual(later.queries, ['carol@example.net', 'carol@example.net']);
  assert.equal(later.settles, 1);

  const never = new FakeVerifier({});
  const r = await policy(RCPT, never).p.check('rcpt', facts({ recipient: 'dave@example.net' }));
  assert.equal(
    replyOf(r),
    '450 4.1.1 <dave@example.net>: Recipient address rejected: unverified address: Address verification in progress',
  );
  assert.equal(never.queries.length, 3, 'address_verify_poll_count = 3 by default');

  const once = new FakeVerifier({});
  await policy(RCPT + 'address_verify_poll_count = 1\n', once).p.check(
    'rcpt',
    facts({ recipient: 'dave@example.net' }),
  );
  assert.equal(once.queries.length, 1);
  assert.equal(once.settles, 0);
});

test('a deferred probe answers unverified_recipient_defer_code; 250 there accepts', async () => {
  const why = 'connect to mx.example.net[192.0.2.7]:25: Connection refused';
  const v = new FakeVerifier({ 'erin@example.net': [said('defer', why)] });
  const f = facts({ recipient: 'erin@example.net' });
  assert.equal(
    replyOf(await policy(RCPT + 'unverified_recipient_defer_code = 451\n', v).p.check('rcpt', f)),
    `451 4.1.1 <erin@example.net>: Recipient address rejected: unverified address: ${why}`,
  );
  assert.equal((await policy(RCPT + 'unverified_recipient_defer_code = 250\n', v).p.check('rcpt', f)).action, 'dunno');
});

test('defer_if_permit (the default tempfail action) lets a later reject win; defer answers at once', async () => {
  const v = new FakeVerifier({ 'bob@example.net': [said('bounce', '550 no')] });
  const f = facts({ recipient: 'bob@example.net' });
  const later = 'smtpd_recipient_restrictions = reject_unverified_recipient, reject\n';
  assert.equal(
    replyOf(await policy(later, v).p.check('rcpt', f)),
    '554 5.7.1 <bob@example.net>: Recipient address rejected: Access denied',
  );
  assert.equal(
    replyOf(await policy(later + 'unverified_recipient_tempfail_action = defer\n', v).p.check('rcpt', f)),
    '450 4.1.1 <bob@example.net>: Recipient address rejected: unverified address: 550 no',
  );
});

test('warn_if_reject only logs', async () => {
  const v = new FakeVerifier({ 'bob@example.net': [said('bounce', '550 no')] });
  const { p, logger } = policy(
    'smtpd_recipient_restrictions = reject_unauth_destination, warn_if_reject reject_unverified_recipient\nunverified_recipient_reject_code = 550\n',
    v,
  );
  assert.equal((await p.check('rcpt', facts({ recipient: 'bob@example.net' }))).action, 'dunno');
  assert.match(
    logger.lines.map((l) => l.text).join('\n'),
    /^NOQUEUE: reject_warning: RCPT from unknown\[192\.0\.2\.99\]: 550 5\.1\.1 <bob@example\.net>: Recipient address rejected: undeliverable address: 550 no;/m,
  );
});

test('reject_unverified_sender: 4.1.7, the null sender is never verified', async () => {
  const v = new FakeVerifier({ 'forged@example.org': [said('bounce', 'host mx said: 550 no such user')] });
  const { p } = policy('smtpd_sender_restrictions = reject_unverified_sender\n', v);
  assert.equal(
    replyOf(await p.check('mail', facts({ sender: 'forged@example.org' }))),
    '450 4.1.7 <forged@example.org>: Sender address rejected: unverified address: host mx said: 550 no such user',
  );
  assert.equal((await p.check('mail', facts({ sender: '' }))).action, 'dunno');
  assert.deepEqual(v.queries, ['forged@example.org']);
  const hard = policy(
    'smtpd_sender_restrictions = reject_unverified_sender\nunverified_sender_reject_code = 550\n',
    v,
  ).p;
  assert.equal(
    replyOf(await hard.check('mail', facts({ sender: 'forged@example.org' }))),
    '550 5.1.7 <forged@example.org>: Sender address rejected: undeliverable address: host mx said: 550 no such user',
  );
});

test('no verify service: 450 "address verification problem" and a warning', async () => {
  const { p, logger } = policy(RCPT + 'unverified_recipient_tempfail_action = defer\n', undefined);
  assert.equal(
    replyOf(await p.check('rcpt', facts({ recipient: 'bob@example.net' }))),
    '450 4.1.1 <bob@example.net>: Recipient address rejected: address verification problem',
  );
  assert.ok(logger.lines.some((l) => l.severity === 'warning' && l.text === 'verify service failure'));
});

test('mail to our own probe sender passes every restriction; no start-up warning for the restrictions', async () => {
  const v = new FakeVerifier({});
  const { p, logger } = policy('smtpd_recipient_restrictions = reject_unverified_recipient, reject\n', v);
  assert.equal((await p.check('rcpt', facts({ recipient: 'double-bounce@mail.example.com' }))).action, 'dunno');
  assert.equal(
    (await p.check('mail', facts({ sender: 'x@example.org', recipient: 'Double-Bounce@mail.example.com' }))).action,
    'dunno',
  );
  assert.equal((await p.check('rcpt', facts({ recipient: 'double-bounce@example.com' }))).action, 'reject');
  assert.deepEqual(v.queries, []);
  assert.deepEqual(
    logger.lines.filter((l) => l.severity === 'warning').map((l) => l.text),
    [],
  );
});
