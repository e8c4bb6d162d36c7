// Config: main.cf over defaults, typed accessors, master.cf -o overrides,
// per-transport fallbacks, raw parameters, errors naming file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config, ConfigError, configDirectory, getConfig } from '../../src/global/params/config.js';
import { parseMasterCf } from '../../src/global/mastercf/parse.js';
import { HARDENED_DEFAULTS } from '../../src/global/params/hardened.js';
import { allParams } from '../../src/global/params/registry.js';
import { myNetworks, programName } from '../../src/global/params/host-defaults.js';
import { formatIp, parseIp } from '../../src/global/match/ip.js';
import { parseInstallDefaults } from '../../src/global/params/install-defaults.js';
import { serviceParams, transportParamDefault } from '../../src/global/params/service-params.js';

test('hardened defaults are what a daemon reads', () => {
  const c = Config.fromText('');
  for (const h of HARDENED_DEFAULTS) assert.equal(c.get(h.name), h.postern, h.name);
  assert.equal(c.bool('smtpd_forbid_unauth_pipelining'), true);
  assert.match(c.get('smtpd_banner'), / ESMTP Postern$/);
});

test('typed accessors and units', () => {
  const c = Config.fromText(
    'maximal_queue_lifetime = 2\nsmtpd_timeout = 5m\nmessage_size_limit = 1000\nx_list = a, b  {c d}\n',
  );
  assert.equal(c.time('maximal_queue_lifetime'), 2 * 86400, 'a bare number takes the default unit (days)');
  assert.equal(c.time('smtpd_timeout'), 300);
  assert.equal(c.time('ipc_timeout'), 3600);
  assert.equal(c.size('message_size_limit'), 1000);
  assert.deepEqual(c.list('x_list'), ['a', 'b', '{c d}']);
  assert.equal(c.int('smtpd_hard_error_limit'), 20, '${stress?...} default expands without stress');
  assert.throws(() => Config.fromText('smtpd_timeout = soon\n').time('smtpd_timeout'), ConfigError);
});

test('master.cf -o overrides layer over main.cf', () => {
  const master = parseMasterCf(
    'submission inet n - n - - smtpd -o syslog_name=postfix/submission -o { smtpd_tls_security_level = encrypt }\n',
  );
  const entry = master.entries[0];
  assert.ok(entry);
  const base = Config.fromText('smtpd_tls_security_level = may\n');
  const svc = base.withOverrides(entry.overrides);
  assert.equal(svc.get('smtpd_tls_security_level'), 'encrypt');
  assert.equal(svc.get('syslog_name'), 'postfix/submission');
  assert.equal(base.get('smtpd_tls_security_level'), 'may', 'the base is untouched');
  const relay = parseMasterCf('relay unix - - n - - smtp -o syslog_name=postfix/$service_name\n').entries[0];
  assert.ok(relay);
  assert.equal(base.forService(relay).get('syslog_name'), 'postfix/relay');
});

test('per-transport names fall back to their default_ counterparts', () => {
  const c = Config.fromText('default_destination_concurrency_limit = 7\nrelay_destination_recipient_limit = 3\n');
  assert.equal(c.int('relay_destination_concurrency_limit'), 7);
  assert.equal(c.int('relay_destination_recipient_limit'), 3);
  assert.equal(c.int('local_destination_recipient_limit'), 1, 'a static registry default wins');
  assert.equal(c.time('uucp_time_limit'), 1000);
  assert.equal(transportParamDefault('nothing_here'), undefined);
  const derived = serviceParams(
    parseMasterCf('relay unix - - n - - smtp\nbsmtp unix - n n - - pipe argv=x\nqmgr unix n - n 300 1 qmgr\n').entries,
  ).map((p) => p.name);
  assert.ok(derived.includes('relay_destination_concurrency_limit'));
  assert.ok(derived.includes('bsmtp_time_limit'));
  assert.ok(!derived.includes('relay_time_limit'), 'only pipe services get _time_limit');
  assert.ok(!derived.some((n) => n.startsWith('qmgr_')), 'qmgr is not a delivery transport');
});

test('raw parameters are returned unexpanded (expanded at delivery with $user, $home...)', () => {
  const c = Config.fromText('mailbox_command = /usr/bin/procmail -a "$EXTENSION"\nluser_relay = $user@other.example\n');
  assert.equal(c.get('mailbox_command'), '/usr/bin/procmail -a "$EXTENSION"');
  assert.equal(c.get('luser_relay'), '$user@other.example');
  assert.equal(c.get('forward_path'), '$home/.forward${recipient_delimiter}${extension}, $home/.forward');
});

test('expansion errors name the file, line and parameter', () => {
  const c = Config.fromText('# x\na = $b\nb = ${a}\n', '/etc/postfix/main.cf');
  assert.throws(() => c.get('a'), {
    name: 'ConfigError',
    message: /^\/etc\/postfix\/main\.cf, line 2: parameter a: unreasonable macro call nesting/,
  });
  assert.throws(() => Config.fromText('a = $ x\n').get('a'), /empty macro name/);
});

test('mydomain follows myhostname; mynetworks follows mynetworks_style', () => {
  assert.equal(Config.fromText('myhostname = mx.example.org\n').get('mydomain'), 'example.org');
  assert.equal(Config.fromText('myhostname = single\n').get('mydomain'), 'localdomain');
  assert.match(myNetworks('host'), /(^|\s)127\.0\.0\.1\/32(\s|$)/);
  assert.match(myNetworks('subnet'), /(^|\s)127\.0\.0\.0\/8(\s|$)/);
  assert.match(myNetworks('class'), /(^|\s)127\.0\.0\.0\/8(\s|$)/);
  assert.match(Config.fromText('mynetworks_style = host\n').get('mynetworks'), /127\.0\.0\.1\/32/);
  assert.equal(programName('/opt/postern/bin/postconf'), 'postconf');
  assert.equal(programName('/opt/postern/dist/src/daemons/smtpd/main.js'), 'smtpd');
  const v6 = (text: string): string => {
    const ip = parseIp(text);
    assert.ok(ip, text);
    return formatIp(ip);
  };
  assert.equal(v6('fd00:0:0:0:0:0:0:0'), 'fd00::');
  assert.equal(v6('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(v6('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1');
});

test('install defaults accept only install-time names', () => {
  const isBuild = (n: string): boolean => n === 'queue_directory';
  assert.deepEqual(
    [...parseInstallDefaults('{"queue_directory":"/q"}', 'f.json', isBuild)],
    [['queue_directory', '/q']],
  );
  assert.throws(() => parseInstallDefaults('{"mail_name":"x"}', 'f.json', isBuild), /f\.json: mail_name is not/);
  assert.throws(() => parseInstallDefaults('[', 'f.json', isBuild), /f\.json: bad JSON/);
});

test('getConfig resolves -c, then MAIL_CONFIG', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-config-'));
  const saved = process.env['MAIL_CONFIG'];
  try {
    await writeFile(join(dir, 'main.cf'), 'myhostname = cfg.example\n');
    assert.equal(getConfig(dir).get('myhostname'), 'cfg.example');
    process.env['MAIL_CONFIG'] = dir;
    assert.equal(configDirectory(), dir);
    assert.equal(getConfig().get('config_directory'), dir);
    assert.equal(configDirectory('/other'), '/other');
    assert.throws(() => getConfig(join(dir, 'missing')), /main\.cf/);
  } finally {
    if (saved === undefined) delete process.env['MAIL_CONFIG'];
    else process.env['MAIL_CONFIG'] = saved;
    await rm(dir, { recursive: true, force: true });
  }
});

test("README's hardened-defaults table matches hardened.ts", async () => {
  const { readFile } = await import('node:fs/promises');
  const { projectRoot } = await import('../postconf/run.js');
  const readme = await readFile(join(projectRoot, 'README.md'), 'utf8');
  const rows = [...readme.matchAll(/^\| `([a-z_]+)` \| `([^`]*)` \| `([^`]*)` \|/gm)].map((m) => [m[1], m[2], m[3]]);
  assert.deepEqual(
    rows,
    HARDENED_DEFAULTS.map((h) => [h.name, h.postfix37, h.postern]),
  );
});

test('every registry default reads back through its typed accessor', () => {
  const c = Config.fromText('');
  const bad: string[] = [];
  for (const p of allParams()) {
    try {
      if (p.type === 'bool') c.bool(p.name);
      else if (p.type === 'int') c.int(p.name);
      else if (p.type === 'size') c.size(p.name);
      else if (p.type === 'time') c.time(p.name);
      else if (p.type === 'list') c.list(p.name);
      else c.get(p.name);
    } catch (e) {
      bad.push(`${p.name} (${p.type}): ${(e as Error).message}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('unused and undefined parameter warnings, as Postfix words them', async () => {
  const { configWarnings } = await import('../../src/global/params/known-params.js');
  const main = Config.fromText('a = 1\nb = $a $nope\nsmtpd_banner = $b\nstray = 2\nrelay_recipient_limit = 3\n');
  const master = parseMasterCf('relay unix - - n - - smtp -o x=1 -o smtpd_banner=$a\n').entries;
  assert.deepEqual(configWarnings(main.settings, master, '/c/main.cf', '/c/master.cf'), [
    '/c/main.cf: undefined parameter: nope',
    '/c/main.cf: unused parameter: stray=2',
    '/c/master.cf: unused parameter: x=1',
  ]);
});

test('install-defaults.json changes what postconf -d prints; a bad file is fatal', async () => {
  const { postern } = await import('../postconf/run.js');
  const dir = await mkdtemp(join(tmpdir(), 'postern-install-'));
  try {
    await writeFile(join(dir, 'main.cf'), '');
    await writeFile(join(dir, 'master.cf'), '');
    await writeFile(join(dir, 'defaults.json'), '{"queue_directory": "/srv/postern/queue"}');
    const ok = await postern(['-c', dir, '-d', 'queue_directory'], {
      POSTERN_INSTALL_DEFAULTS: join(dir, 'defaults.json'),
    });
    assert.equal(ok.stdout, 'queue_directory = /srv/postern/queue\n');
    await writeFile(join(dir, 'defaults.json'), '{"mail_name": "x"}');
    const bad = await postern(['-c', dir, '-d', 'queue_directory'], {
      POSTERN_INSTALL_DEFAULTS: join(dir, 'defaults.json'),
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /defaults\.json: mail_name is not an install-time parameter/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('configuration files over the size limit are refused with a clear error', async () => {
  const { readConfigFile } = await import('../../src/global/params/read-config-file.js');
  const dir = await mkdtemp(join(tmpdir(), 'postern-big-'));
  try {
    const file = join(dir, 'main.cf');
    await writeFile(file, 'a = 1\n'.repeat(100));
    assert.equal(readConfigFile(file).length, 600);
    assert.throws(() => readConfigFile(file, 100), { code: 'EFBIG', message: /file too large/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
