// Golden cases for trivial-rewrite(8)'s "resolve" request: address class,
// transport and next hop as ADDRESS_CLASS_README and transport(5) define them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { createRewriter, type ResolveResult } from '../../src/daemons/trivial-rewrite/trivial-rewrite.js';
import { DictRetryError, type Dict } from '../../src/global/dict/dict-api.js';
import { mapDict, tableOpener } from './map-dict.js';

const base =
  'compatibility_level = 3.6\nmyhostname = mail.example.com\nmydomain = example.com\n' +
  'mydestination = $myhostname, localhost.$mydomain, localhost\n';

function resolver(extra = '', tables: Record<string, Dict> = {}): ReturnType<typeof createRewriter> {
  return createRewriter({
    config: Config.fromText(base + extra),
    openDict: tableOpener(tables),
    interfaceAddresses: new Set(['127.0.0.1', '::1']),
  });
}

function brief(r: ResolveResult): string {
  return `${r.flags.class} ${r.transport}:${r.nexthop} ${r.recipient}${r.flags.error ? ' ERROR' : ''}${r.flags.routed ? ' ROUTED' : ''}`;
}

async function check(r: ReturnType<typeof createRewriter>, cases: [string, string][], sender = 's@example.com') {
  for (const [input, want] of cases) assert.equal(brief(await r.resolve(input, sender)), want, `resolve(${input})`);
}

test('address classes with stock settings', async () => {
  await check(resolver(), [
    ['user@mail.example.com', 'local local:mail.example.com user@mail.example.com'],
    ['user', 'local local:mail.example.com user@mail.example.com'],
    ['User@LOCALHOST', 'local local:mail.example.com User@LOCALHOST'],
    ['user@localhost.', 'local local:mail.example.com user@localhost'],
    ['', 'local local:mail.example.com MAILER-DAEMON@mail.example.com'],
    ['user@[127.0.0.1]', 'local local:mail.example.com user@[127.0.0.1]'],
    ['user@[192.0.2.9]', 'default smtp:[192.0.2.9] user@[192.0.2.9]'],
    ['user@remote.org', 'default smtp:remote.org user@remote.org'],
    ['user%remote.org@mail.example.com', 'default smtp:remote.org user@remote.org'],
    ['remote.org!user@localhost', 'default smtp:remote.org user@remote.org'],
    ['a@b.org@mail.example.com', 'default smtp:b.org a@b.org'],
    ['a%b.org@remote.org', 'default smtp:remote.org a%b.org@remote.org ROUTED'],
    ['user@192.0.2.1', 'default smtp:192.0.2.1 user@192.0.2.1 ERROR'],
    ['user@bad_do..main', 'default smtp:bad_do..main user@bad_do..main ERROR'],
  ]);
});

test('resolve_dequoted_address = no keeps a quoted @ in the local part', async () => {
  await check(resolver('resolve_dequoted_address = no\n'), [
    ['a@b.org@mail.example.com', 'local local:mail.example.com a@b.org@mail.example.com'],
  ]);
});

test('virtual alias, virtual mailbox and relay domains; relayhost', async () => {
  const r = resolver(
    'virtual_alias_domains = valias.test\nvirtual_mailbox_domains = vmbox.test\n' +
      'relay_domains = example.org\nrelayhost = [smart.example.net]:587\n',
  );
  await check(r, [
    ['u@valias.test', 'alias error:5.1.1 User unknown in virtual alias table u@valias.test'],
    ['u@vmbox.test', 'virtual virtual:vmbox.test u@vmbox.test'],
    ['u@example.org', 'relay relay:[smart.example.net]:587 u@example.org'],
    // relay_domains is in parent_domain_matches_subdomains by default.
    ['u@sub.example.org', 'relay relay:[smart.example.net]:587 u@sub.example.org'],
    ['u@elsewhere.net', 'default smtp:[smart.example.net]:587 u@elsewhere.net'],
  ]);
  const hidden = resolver('virtual_alias_domains = valias.test\nshow_user_unknown_table_name = no\n');
  await check(hidden, [['u@valias.test', 'alias error:5.1.1 User unknown u@valias.test']]);
});

test('domain lists: .parent patterns, negation and tables', async () => {
  const r = resolver('mydestination = !no.example.com, .example.com, hash:/etc/postfix/local_domains\n', {
    'hash:/etc/postfix/local_domains': mapDict('hash:/etc/postfix/local_domains', { 'table.test': 'ok' }),
  });
  await check(r, [
    ['u@a.example.com', 'local local:mail.example.com u@a.example.com'],
    ['u@no.example.com', 'default smtp:no.example.com u@no.example.com'],
    ['u@example.com', 'default smtp:example.com u@example.com'],
    ['u@table.test', 'local local:mail.example.com u@table.test'],
    ['u@sub.table.test', 'default smtp:sub.table.test u@sub.table.test'],
  ]);
});

test('transport_maps: key order, null fields, wildcard, error and discard', async () => {
  const t = mapDict('hash:/t', {
    'special@example.net': 'discard:silently dropped',
    'user@example.net': 'error:5.7.1 no mail for user',
    'example.net': 'smtp:[mx.example.net]:2525',
    '.example.net': 'relay:',
    'keep.test': ':[nexthop.keep.test]',
    'reset.test': 'lmtp:',
    'nochange.test': ':',
    'mail.example.com': 'local:other-host',
    '*': 'smtp:[fallback.example]',
  });
  const r = resolver('transport_maps = hash:/t\nrecipient_delimiter = +\n', { 'hash:/t': t });
  await check(r, [
    ['special@example.net', 'default discard:silently dropped special@example.net'],
    ['user+tag@example.net', 'default error:5.7.1 no mail for user user+tag@example.net'],
    ['other@example.net', 'default smtp:[mx.example.net]:2525 other@example.net'],
    ['u@sub.example.net', 'default relay:sub.example.net u@sub.example.net'],
    ['u@keep.test', 'default smtp:[nexthop.keep.test] u@keep.test'],
    ['u@reset.test', 'default lmtp:reset.test u@reset.test'],
    ['u@nochange.test', 'default smtp:nochange.test u@nochange.test'],
    ['u@mail.example.com', 'local local:other-host u@mail.example.com'],
    ['u@anything.else', 'default smtp:[fallback.example] u@anything.else'],
  ]);
});

test('sender-dependent relayhost and default transport', async () => {
  const r = resolver(
    'sender_dependent_relayhost_maps = hash:/srh\nsender_dependent_default_transport_maps = hash:/sdt\n' +
      'relayhost = [global.example]\nrelay_domains = example.org\n',
    {
      'hash:/srh': mapDict('hash:/srh', { '@corp.example': '[corp-relay.example]', '<>': '[bounce-relay.example]' }),
      'hash:/sdt': mapDict('hash:/sdt', { 'vip@corp.example': 'fast:' }),
    },
  );
  await check(r, [['u@dest.net', 'default smtp:[corp-relay.example] u@dest.net']], 'joe@corp.example');
  await check(r, [['u@dest.net', 'default fast:[corp-relay.example] u@dest.net']], 'vip@corp.example');
  await check(r, [['u@dest.net', 'default smtp:[bounce-relay.example] u@dest.net']], '');
  await check(r, [['u@dest.net', 'default smtp:[global.example] u@dest.net']], 'other@x.example');
  // Relay-class mail takes the sender-dependent relayhost but not the default transport.
  await check(r, [['u@example.org', 'relay relay:[corp-relay.example] u@example.org']], 'vip@corp.example');
});

test('relayhost may list several destinations (Postfix 3.5+)', async () => {
  await check(resolver('relayhost = [a.example]:587 [b.example]:587\n'), [
    ['u@remote.org', 'default smtp:[a.example]:587, [b.example]:587 u@remote.org'],
  ]);
});

test('a failing table marks the result as a temporary failure', async () => {
  const r = resolver('transport_maps = hash:/t\n', { 'hash:/t': mapDict('hash:/t', {}, true) });
  const res = await r.resolve('u@remote.org', 's@example.com');
  assert.equal(res.flags.fail, true);
});

test('local mail through a local_transport without next hop uses myhostname', async () => {
  await check(resolver('local_transport = local\n'), [['u@localhost', 'local local:mail.example.com u@localhost']]);
});

test('the last answer is reused only for the same address, sender and mode, and never a failure', async () => {
  let failing = true;
  let lookups = 0;
  const table: Dict = {
    spec: 'hash:/t',
    lookup: (key: string) => {
      lookups++;
      if (failing) return Promise.reject(new DictRetryError('hash:/t: lookup failed'));
      return Promise.resolve(key === 'remote.org' ? 'relay:[gw.example]' : undefined);
    },
    close: () => Promise.resolve(),
  };
  const r = resolver('transport_maps = hash:/t\n', { 'hash:/t': table });
  assert.equal((await r.resolve('u@remote.org', 's@example.com')).flags.fail, true);
  // The table recovered: a failure was not kept.
  failing = false;
  assert.equal(brief(await r.resolve('u@remote.org', 's@example.com')), 'default relay:[gw.example] u@remote.org');
  const before = lookups;
  assert.equal(brief(await r.resolve('u@remote.org', 's@example.com')), 'default relay:[gw.example] u@remote.org');
  assert.equal(lookups, before, 'the same question asked again at once is answered from memory');
  // A different address or sender is a different question.
  assert.equal(brief(await r.resolve('v@other.org', 's@example.com')), 'default smtp:other.org v@other.org');
  assert.equal(brief(await r.resolve('u@remote.org', 't@example.com')), 'default relay:[gw.example] u@remote.org');
  assert.ok(lookups > before);
});
