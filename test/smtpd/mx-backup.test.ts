// permit_mx_backup through smtpd's real policy and Postern's DNS client,
// against a DNS server on loopback: a backup MX is permitted, a primary MX
// or an unlisted host is not, permit_mx_backup_networks restricts the
// primaries, and a DNS failure turns the later relay refusal into 450 4.4.4.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { DnsClient } from '../../src/global/dns/client.js';
import { createSmtpdPolicy } from '../../src/daemons/smtpd/restrictions/index.js';
import { dnsPolicyResolver } from '../../src/daemons/smtpd/dns-policy-resolver.js';
import type { Dict } from '../../src/global/dict/dict-api.js';
import { FakeDns } from '../dns/fake-dns-server.js';
import { BASE_MAIN_CF, RawClient, startSmtpd } from './harness.js';

let dns: FakeDns;

const mx = (name: string, preference: number, exchange: string) => ({
  name,
  type: 'MX' as const,
  data: { preference, exchange },
});
const a = (name: string, addr: string) => ({ name, type: 'A' as const, data: addr });

before(async () => {
  dns = new FakeDns({
    records: [
      a('me.test', '127.0.0.1'),
      a('mx1.other.test', '192.0.2.9'),
      a('far.test', '198.51.100.1'),
      mx('backup.test', 10, 'mx1.other.test'),
      mx('backup.test', 20, 'me.test'),
      mx('primary.test', 10, 'me.test'),
      mx('primary.test', 20, 'mx1.other.test'),
      mx('notlisted.test', 10, 'mx1.other.test'),
      mx('byname.test', 10, 'mx1.other.test'),
      mx('byname.test', 30, 'mx.example.test'),
      mx('farprimary.test', 10, 'far.test'),
      mx('farprimary.test', 20, 'me.test'),
    ],
    servfail: ['broken.test'],
  });
  await dns.start();
});
after(async () => {
  await dns.stop();
});

const MAIN_CF = [
  'mynetworks = 10.0.0.0/8',
  'mydestination = $myhostname, localhost',
  'inet_interfaces = 127.0.0.1',
  'smtpd_relay_restrictions = permit_mx_backup, reject_unauth_destination',
].join('\n');

async function rcptReplies(extraCf: string, rcpts: string[]): Promise<string[]> {
  const mainCf = `${MAIN_CF}\n${extraCf}`;
  const policy = createSmtpdPolicy({
    config: Config.fromText(`${BASE_MAIN_CF}\n${mainCf}\n`),
    openDict: (): Promise<Dict> => Promise.reject(new Error('no tables')),
    resolver: dnsPolicyResolver(
      new DnsClient({ servers: [{ host: '127.0.0.1', port: dns.port }], timeoutMs: 2000, attempts: 1 }),
    ),
    logger: new MemoryLogger('postfix/smtpd'),
  });
  const h = await startSmtpd(mainCf, { extra: { policy } });
  try {
    const c = await RawClient.connect(h.port);
    await c.reply();
    await c.cmd('EHLO client.example');
    await c.cmd('MAIL FROM:<a@sender.example>');
    const out: string[] = [];
    for (const r of rcpts) out.push(await c.cmd(`RCPT TO:<${r}>`));
    await c.cmd('QUIT');
    return out;
  } finally {
    await h.close();
  }
}

test('permit_mx_backup: backup MX by address or by name; not as primary, not unlisted', async () => {
  assert.deepEqual(
    await rcptReplies('', ['u@backup.test', 'u@byname.test', 'u@primary.test', 'u@notlisted.test', 'u@nomx.test']),
    [
      '250 2.1.5 Ok',
      '250 2.1.5 Ok',
      '554 5.7.1 <u@primary.test>: Relay access denied',
      '554 5.7.1 <u@notlisted.test>: Relay access denied',
      '554 5.7.1 <u@nomx.test>: Relay access denied',
    ],
  );
});

test('permit_mx_backup_networks: every primary MX address must be listed', async () => {
  assert.deepEqual(
    await rcptReplies('permit_mx_backup_networks = 192.0.2.0/24', ['u@backup.test', 'u@farprimary.test']),
    ['250 2.1.5 Ok', '554 5.7.1 <u@farprimary.test>: Relay access denied'],
  );
});

test('permit_mx_backup: a DNS failure defers instead of rejecting', async () => {
  assert.deepEqual(await rcptReplies('', ['u@broken.test']), [
    '450 4.4.4 <u@broken.test>: Recipient address rejected: Unable to look up mail exchanger information: Host not found, try again',
  ]);
});
