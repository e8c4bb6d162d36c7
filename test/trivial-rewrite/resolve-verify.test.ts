// trivial-rewrite's verify mode (Postfix's resolve_verify) for verify(8)'s
// probes: each address class uses its address_verify_*_transport, the
// relayhost, transport_maps and sender-dependent maps have their
// address_verify_ counterparts, and with no overrides a probe goes exactly
// where normal mail goes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { createRewriter, type ResolveResult } from '../../src/daemons/trivial-rewrite/trivial-rewrite.js';
import { mapDict, tableOpener } from './map-dict.js';

const base =
  'compatibility_level = 3.6\nmyhostname = mail.example.com\nmydomain = example.com\n' +
  'mydestination = $myhostname, localhost\nrelay_domains = relay.test\nvirtual_mailbox_domains = virt.test\n' +
  'relayhost = [smarthost.example.com]\ntransport_maps = hash:/normal\n';

const tables = {
  'hash:/normal': mapDict('hash:/normal', { 'mapped.test': 'relay:[normal-route.example]' }),
  'hash:/probe': mapDict('hash:/probe', { 'mapped.test': 'direct:[probe-route.example]' }),
  'hash:/senders': mapDict('hash:/senders', { '@example.com': '[sender-route.example]' }),
};

const brief = (r: ResolveResult): string => `${r.flags.class} ${r.transport}:${r.nexthop}`;

test('probes follow the address_verify_* overrides; normal mail does not', async () => {
  const r = createRewriter({
    config: Config.fromText(
      base +
        'address_verify_relayhost =\naddress_verify_default_transport = direct\n' +
        'address_verify_local_transport = vlocal\naddress_verify_virtual_transport = vvirt\n' +
        'address_verify_relay_transport = vrelay\naddress_verify_transport_maps = hash:/probe\n',
    ),
    openDict: tableOpener(tables),
    interfaceAddresses: new Set(['127.0.0.1']),
  });
  const cases: [string, string, string][] = [
    ['u@remote.org', 'default smtp:[smarthost.example.com]', 'default direct:remote.org'],
    ['u@mail.example.com', 'local local:mail.example.com', 'local vlocal:mail.example.com'],
    ['u@virt.test', 'virtual virtual:virt.test', 'virtual vvirt:virt.test'],
    ['u@relay.test', 'relay relay:[smarthost.example.com]', 'relay vrelay:relay.test'],
    ['u@mapped.test', 'default relay:[normal-route.example]', 'default direct:[probe-route.example]'],
  ];
  for (const [addr, normal, probe] of cases) {
    assert.equal(brief(await r.resolve(addr, 's@example.com')), normal, `normal ${addr}`);
    assert.equal(brief(await r.resolve(addr, 's@example.com', 'verify')), probe, `verify ${addr}`);
  }
});

test('sender-dependent maps have their own verify versions; defaults follow the normal settings', async () => {
  const r = createRewriter({
    config: Config.fromText(
      base + 'sender_dependent_relayhost_maps = hash:/senders\n' + 'address_verify_sender_dependent_relayhost_maps =\n',
    ),
    openDict: tableOpener(tables),
    interfaceAddresses: new Set(['127.0.0.1']),
  });
  assert.equal(brief(await r.resolve('u@remote.org', 'a@example.com')), 'default smtp:[sender-route.example]');
  assert.equal(
    brief(await r.resolve('u@remote.org', 'a@example.com', 'verify')),
    'default smtp:[smarthost.example.com]',
  );
  const plain = createRewriter({ config: Config.fromText(base), openDict: tableOpener(tables) });
  for (const a of ['u@remote.org', 'u@mapped.test', 'u@relay.test', 'u@mail.example.com']) {
    assert.equal(brief(await plain.resolve(a, '', 'verify')), brief(await plain.resolve(a, '')), a);
  }
});
