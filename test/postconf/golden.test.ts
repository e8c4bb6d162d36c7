// Golden comparisons: Postern's postconf against Debian's real Postfix 3.7
// postconf on the same configuration directories (Debian's main.cf.proto and
// master.cf.proto, and a multi-line master.cf with submission/smtps -o
// overrides and user-defined parameters). Skipped when the real one is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile, cp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveRealPostconf, normaliseStderr, normaliseStdout, postern, realPostconf } from './run.js';

const skip = haveRealPostconf ? false : 'Debian postfix not installed (/usr/sbin/postconf missing)';
const PROTO = '/etc/postfix';
const haveProtos = existsSync(join(PROTO, 'main.cf.proto')) && existsSync(join(PROTO, 'master.cf.proto'));

const CUSTOM_MAIN = `# user settings
myhostname = mx.example.org
mydomain = example.org
mynetworks = 127.0.0.0/8,
    [::1]/128
relayhost = [smarthost.example.net]:587
mua_client_restrictions = permit_sasl_authenticated, reject
smtpd_restriction_classes = mua_sender
mua_sender = reject_sender_login_mismatch
unused_thing = 42
smtpd_banner = \${myhostname?{$myhostname ESMTP}:{nobody}} $(mail_name)
relay_destination_concurrency_limit = 5
maildrop_time_limit = 30s
message_size_limit = 52428800
alias_maps = hash:/etc/aliases   lmdb:/etc/aliases2
undefined_user = $nothing_defines_this
virtual_alias_maps = ldap:myldap
myldap_server_host = ldap.example
myldap_search_base = dc=example,dc=org
myldap_bogus = 1
`;

const CUSTOM_MASTER = `# Postern golden test
smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
#  -o smtpd_tls_auth_only=yes
  -o { smtpd_client_restrictions = $mua_client_restrictions }
  -o smtpd_recipient_restrictions=
  -o milter_macro_daemon_name=ORIGINATING
  -o undefined_here=1
smtps     inet  n       -       y       -       -       smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -osmtpd_sasl_auth_enable=yes
127.0.0.1:10025 inet n  -       n       -       10      smtpd -o content_filter= -v
[::1]:2525 unix-dgram n - n 300? 0 smtpd
pickup    unix  n       -       y       60      1       pickup
cleanup   unix  n       -       y       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
relay     unix  -       -       y       -       -       smtp
        -o syslog_name=postfix/$service_name
smtp      unix  -       -       y       -       -       smtp
local     unix  -       n       n       -       -       local
maildrop  unix  -       n       n       -       -       pipe
  flags=DRhu user=vmail argv=/usr/bin/maildrop -d \${recipient} { a spaced arg } more words here to wrap the line
`;

async function makeDir(main: string, master: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-golden-'));
  await writeFile(join(dir, 'main.cf'), main);
  await writeFile(join(dir, 'master.cf'), master);
  return dir;
}

const QUERIES: string[][] = [
  ['-n'],
  ['-nx'],
  ['-nf'],
  ['-M'],
  ['-Mf'],
  ['-F'],
  ['-P'],
  ['-Pf'],
  ['-M', 'submission/inet', 'smtp', 'nothere/unix'],
  ['-F', 'smtp/inet/command', 'maildrop/unix/process_limit'],
  ['-P', 'submission/inet/syslog_name', 'relay/unix/nothere'],
  [],
  ['-x'],
  ['-d'],
  ['-h', 'myhostname', 'relay_destination_concurrency_limit', 'no_such_param'],
  ['-H', 'mydomain', 'mua_sender'],
  ['-d', 'mua_sender', 'maildrop_time_limit'],
  ['-x', 'smtpd_banner', 'undefined_user'],
  ['-Mx'],
  ['-Px'],
  ['-o', 'mynetworks_style=host', '-x', 'mynetworks'],
  ['-o', 'mynetworks_style=class', '-x', 'mynetworks', 'mydomain'],
  ['-Fx', 'submission/inet/command'],
  ['-o', 'myhostname=other.example', '-x', 'myhostname', 'mydomain', 'smtpd_banner'],
];

async function compare(dir: string, args: string[]): Promise<void> {
  const full = ['-c', dir, ...args];
  const [real, ours] = await Promise.all([realPostconf(full), postern(full)]);
  const what = `postconf ${args.join(' ')}`;
  assert.equal(ours.code, real.code, `${what}: exit status`);
  assert.equal(normaliseStdout(ours.stdout), normaliseStdout(real.stdout), `${what}: stdout`);
  assert.deepEqual(normaliseStderr(ours.stderr), normaliseStderr(real.stderr), `${what}: stderr`);
}

test(
  'Debian main.cf.proto and master.cf.proto: queries match real postconf',
  { skip: skip || (!haveProtos && 'no protos') },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'postern-golden-'));
    try {
      await copyFile(join(PROTO, 'main.cf.proto'), join(dir, 'main.cf'));
      await copyFile(join(PROTO, 'master.cf.proto'), join(dir, 'master.cf'));
      for (const q of QUERIES) await compare(dir, q);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('multi-line master.cf with -o overrides: queries match real postconf', { skip }, async () => {
  const dir = await makeDir(CUSTOM_MAIN, CUSTOM_MASTER);
  try {
    for (const q of QUERIES) await compare(dir, q);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('error cases match real postconf (status and message)', { skip }, async () => {
  const cases: [string, string, string[]][] = [
    ['a = 1\nfoo bar\n', 'smtp inet n - n - - smtpd\n', ['-n']],
    ['a = $b\nb = $a\nsmtpd_banner = $a\n', 'smtp inet n - n - - smtpd\n', ['-x', 'smtpd_banner']],
    ['', 'smtp foo n - n - - smtpd\n', ['-M']],
    ['', 'smtp inet n - n - -\n', ['-M']],
    ['', 'smtp inet n - n 5x - smtpd\n', ['-M']],
    ['', '  smtp inet n - n - - smtpd\n', ['-M']],
    ['', 'smtp inet n - n - - smtpd\n', ['-F', 'smtp/inet/bogus']],
    ['', 'smtp inet n - n - - smtpd\n', ['-Z']],
    ['', 'smtp inet n - n - - smtpd\n', ['-m', '-l']],
    ['', 'smtp inet n - n - - smtpd\n', ['-e', 'novalue']],
    ['', 'smtp inet n - n - - smtpd\n', ['-e', '=x']],
  ];
  for (const [main, master, args] of cases) {
    const dir = await makeDir(main, master);
    try {
      await compare(dir, args);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

/** Run the same edit with both programs on twin directories and compare the files they leave. */
async function compareEdit(main: string, master: string, args: string[], file: 'main.cf' | 'master.cf'): Promise<void> {
  const a = await makeDir(main, master);
  const b = await mkdtemp(join(tmpdir(), 'postern-golden-'));
  try {
    await cp(a, b, { recursive: true });
    const [real, ours] = await Promise.all([realPostconf(['-c', a, ...args]), postern(['-c', b, ...args])]);
    const what = `postconf ${args.join(' ')}`;
    assert.equal(ours.code, real.code, `${what}: exit status (${real.stderr} / ${ours.stderr})`);
    assert.deepEqual(normaliseStderr(ours.stderr), normaliseStderr(real.stderr), `${what}: stderr`);
    assert.equal(await readFile(join(b, file), 'utf8'), await readFile(join(a, file), 'utf8'), `${what}: ${file}`);
  } finally {
    await rm(a, { recursive: true, force: true });
    await rm(b, { recursive: true, force: true });
  }
}

test('main.cf edits (-e, name=value, -X, -#) leave the same file as real postconf', { skip }, async () => {
  const main = '# head\nmyhostname = a.example\n  continued\n# mid\nrelayhost = x\nmydomain=b\n\n# tail\n';
  await compareEdit(main, '', ['-e', 'myhostname = new.example', 'relayhost = '], 'main.cf');
  await compareEdit(main, '', ['-e', 'mail_name=Foo'], 'main.cf');
  await compareEdit(main, '', ['message_size_limit=0'], 'main.cf');
  await compareEdit(main, '', ['-X', 'relayhost', 'myhostname', 'nothere'], 'main.cf');
  await compareEdit(main, '', ['-#', 'mydomain', 'myhostname'], 'main.cf');
  await compareEdit(main, '', ['-e', 'myhostname = u.example', 'myhostname = v'], 'main.cf');
});

test('master.cf edits (-Me, -Fe, -Pe, -PX, -MX, -M#) leave the same file as real postconf', { skip }, async () => {
  const master =
    '# hello\nc unix - - - - - pipe aaaaa\n  -o x=1\nd unix - - - - - smtpd -o a=1\nsmtp inet n - y - - smtpd\n';
  await compareEdit(
    '',
    master,
    ['-Me', 'c/unix=c unix - n - - - pipe bbb', 'e/inet=e inet n - - - - smtpd'],
    'master.cf',
  );
  await compareEdit('', master, ['-Fe', 'c/unix/chroot=y', 'd/unix/command=smtpd -v -o b=2'], 'master.cf');
  await compareEdit('', master, ['-Pe', 'd/unix/b=3', 'd/unix/a=2', 'e/inet/q=1'], 'master.cf');
  await compareEdit('', master, ['-Pe', 'd/unix/b=3 4'], 'master.cf');
  await compareEdit('', master, ['-PX', 'd/unix/a'], 'master.cf');
  await compareEdit('', master, ['-MX', 'c/unix'], 'master.cf');
  await compareEdit('', master, ['-M#', 'smtp/inet'], 'master.cf');
  await compareEdit('', master, ['-Fe', 'd/unix/private=q'], 'master.cf');
  await compareEdit('', master, ['-Me', 'f/unix=g unix - - - - - x'], 'master.cf');
});

const EXPAND_MAIN = `t1 = \${myhostname?{yes}:{no}}
t2 = \${empty?{yes}:{no}}
t3 = \${myhostname ? {yes} : {no}}
t4 = \${{$compatibility_level} <level {3.6} ? {old} : {new}}
t5 = \${{abc} == {abc} ? {same} : {diff}}
t6 = \${{abc} != {abd} ? {ne}}
t7 = \${{ 10 } < { 9 } ? {lt} : {ge}}
t8 = \${{$mail_version} >=level {3.7} ? {modern} : {old}}
t9 = $(myhostname)x \${myhostname}y $myhostname.z
t10 = \${empty:fallback} \${myhostname:fallback}
t11 = \${empty?set} \${myhostname?set}
t12 = \${myhostname?{a {nested} b}:{c}}
t13 = \${{a}=={a}?{x}:{y}}
t14 = \${{2} <= {10} ? {yes} : {no}}
t15 = \${{2} <=level {10} ? {yes} : {no}}
empty =
smtpd_banner = $t1 $t2 $t3 $t4 $t5 $t6 $t7 $t8 $t9 $t10 $t11 $t12 $t13 $t14 $t15
`;

test('every postconf(5) expansion form gives what real postconf -x gives', { skip }, async () => {
  const dir = await makeDir(EXPAND_MAIN, '');
  try {
    const names = Array.from({ length: 15 }, (_, i) => `t${i + 1}`);
    await compare(dir, ['-x', ...names, 'smtpd_banner']);
    await compare(dir, ['-nx']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
