// receive_override_options=no_unknown_recipient_checks in smtpd: the
// recipient (and sender) table checks that reject unknown local users are
// skipped for the entry that has it, as on a content filter's re-injection port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createSmtpdPolicy } from '../../src/daemons/smtpd/restrictions/index.js';
import { DictSet, FakeResolver, facts } from './harness.js';

const BASE = `compatibility_level = 3.7
myhostname = mail.example.com
mydomain = example.com
mynetworks = 127.0.0.0/8
local_recipient_maps = hash:users
smtpd_reject_unlisted_sender = yes
`;

function check(extra: string, sender: string, recipient: string) {
  const dicts = new DictSet();
  dicts.get('hash:users').set('known', 'x');
  const p = createSmtpdPolicy({
    config: Config.fromText(BASE + extra),
    openDict: dicts.opener,
    resolver: new FakeResolver(),
    logger: new MemoryLogger('postfix/smtpd'),
    localAddresses: ['127.0.0.1'],
  });
  return {
    rcpt: () => p.check('rcpt', facts({ clientAddr: '127.0.0.1', sender, recipient })),
    mail: () => p.check('mail', facts({ clientAddr: '127.0.0.1', sender })),
  };
}

test('an unknown local recipient is refused unless no_unknown_recipient_checks is set', async () => {
  const plain = await check('', 'known@mail.example.com', 'nobody@mail.example.com').rcpt();
  assert.equal(plain.action, 'reject');
  assert.match(plain.action === 'reject' ? plain.reply.text : '', /User unknown in local recipient table/);
  const known = await check('', 'known@mail.example.com', 'known@mail.example.com').rcpt();
  assert.notEqual(known.action, 'reject');

  const overridden = check(
    'receive_override_options = no_header_body_checks, no_unknown_recipient_checks\n',
    'ghost@mail.example.com',
    'nobody@mail.example.com',
  );
  assert.notEqual((await overridden.rcpt()).action, 'reject');
  assert.notEqual((await overridden.mail()).action, 'reject');
  assert.equal((await check('', 'ghost@mail.example.com', 'x@remote.test').mail()).action, 'reject');
});
