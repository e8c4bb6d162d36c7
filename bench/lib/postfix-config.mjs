// main.cf, master.cf and lookup tables for one throwaway Postfix-style
// instance (postfix -c DIR, multi-instance style: its own queue, data
// directory, maillog_file and loopback port). Postfix and Postern get the
// very same files: Postern reads Postfix's configuration unchanged.
import { readFileSync } from 'node:fs';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The restriction tables of the `lookup` scenario: none of them matches the benchmark's mail. */
export const TABLE_SIZES = { hash: 10000, cidr: 1000, regexp: 100 };

export function senderEntries() {
  return Array.from({ length: TABLE_SIZES.hash }, (_, i) => `spammer${i}@blocked-${i % 97}.example.net`);
}
export function cidrEntries() {
  return Array.from({ length: TABLE_SIZES.cidr }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`);
}
export function regexpEntries() {
  return Array.from({ length: TABLE_SIZES.regexp }, (_, i) => `^trap${i}[-.][a-z]+[0-9]*@`);
}

export function mainCf(o) {
  const lines = [
    '# Written by bench/lib/postfix-config.mjs for one benchmark run.',
    'compatibility_level = 3.6',
    `queue_directory = ${o.dir}/queue`,
    `data_directory = ${o.dir}/data`,
    `maillog_file = ${o.dir}/maillog`,
    `maillog_file_prefixes = ${o.dir}`,
    'myhostname = bench.localdomain',
    'mydomain = localdomain',
    'mydestination = localhost',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    'alias_maps =',
    'alias_database =',
    'biff = no',
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
  ];
  if (o.mode === 'relay') {
    lines.push(
      `relayhost = [127.0.0.1]:${o.sinkPort}`,
      `smtp_connection_cache_destinations = [127.0.0.1]:${o.sinkPort}`,
    );
  } else {
    lines.push('default_transport = discard:benchmark');
  }
  if (o.mode === 'local') lines.push('home_mailbox = Maildir/');
  if (o.lookup) {
    lines.push(
      'smtpd_recipient_restrictions =',
      `    check_client_access cidr:${o.dir}/clients.cidr,`,
      `    check_sender_access hash:${o.dir}/senders,`,
      `    check_recipient_access regexp:${o.dir}/recipients.regexp,`,
      '    permit_mynetworks, reject_unauth_destination',
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * master.cf: the core services of Debian's master.cf.proto with chroot off
 * (a throwaway instance has no chroot jail) and smtpd on 127.0.0.1:PORT.
 */
export function masterCf(o) {
  const proto = readFileSync('/etc/postfix/master.cf.proto', 'utf8').split('\n');
  const out = ['# Written by bench/lib/postfix-config.mjs from /etc/postfix/master.cf.proto.'];
  for (const line of proto) {
    if (line.startsWith('#') || line.trim() === '') continue;
    if (/^maildrop\s/.test(line)) break; // the optional pipe(8) examples follow
    const f = line.split(/\s+/);
    if (f.length >= 8 && !/^\s/.test(line)) {
      if (f[0] === 'smtp' && f[1] === 'inet') {
        f[0] = `127.0.0.1:${o.port}`;
        if (o.smtpdMaxproc) f[6] = String(o.smtpdMaxproc);
      }
      f[4] = 'n';
      out.push(f.join('\t'));
    } else {
      out.push(line);
    }
  }
  return out.join('\n') + '\n';
}

/** Writes main.cf, master.cf and (for `lookup`) the tables' source files; postmap is the caller's. */
export async function writeInstance(o) {
  // postfix(1) chdirs to queue_directory before postfix-script creates the rest.
  await mkdir(join(o.dir, 'queue'), { recursive: true });
  await mkdir(join(o.dir, 'data'), { recursive: true });
  if (o.owner) await chown(join(o.dir, 'data'), o.owner.uid, o.owner.gid);
  await writeFile(join(o.dir, 'main.cf'), mainCf(o));
  await writeFile(join(o.dir, 'master.cf'), masterCf(o));
  if (o.lookup) {
    await writeFile(
      join(o.dir, 'senders'),
      senderEntries()
        .map((a) => `${a}\tREJECT blocked sender\n`)
        .join(''),
    );
    await writeFile(
      join(o.dir, 'clients.cidr'),
      cidrEntries()
        .map((c) => `${c}\tREJECT blocked network\n`)
        .join(''),
    );
    await writeFile(
      join(o.dir, 'recipients.regexp'),
      regexpEntries()
        .map((r) => `/${r}/\tREJECT spam trap\n`)
        .join(''),
    );
  }
}
