// master.cf parsing (master(5)): columns, defaults, continuation, -o forms, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMasterCf, parseMasterCf, splitInetName, splitWords } from '../../src/global/mastercf/parse.js';

const SAMPLE = `# comment
smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
#  -o commented=out
  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }
  -osmtpd_tls_security_level=encrypt
127.0.0.1:2525 inet n - n - 5 smtpd -v
pickup    unix  n       -       y       60      1       pickup
qmgr      unix  n       -       n       300?    0       qmgr
pipe-it   unix  -       n       n       -       -       pipe flags=F argv=/bin/echo { a b } \${recipient}
`;

test('columns, defaults and continuation lines', () => {
  const { entries, problems } = parseMasterCf(SAMPLE, 'master.cf', { defaultProcessLimit: 100 });
  assert.deepEqual(problems, []);
  assert.deepEqual(
    entries.map((e) => `${e.name}/${e.type}@${e.line}`),
    ['smtp/inet@2', 'submission/inet@3', '127.0.0.1:2525/inet@8', 'pickup/unix@9', 'qmgr/unix@10', 'pipe-it/unix@11'],
  );
  const [smtp, sub, local, pickup, qmgr, pipe] = entries;
  assert.ok(smtp && sub && local && pickup && qmgr && pipe);
  assert.equal(smtp.private, false);
  assert.equal(smtp.unpriv, true, '`-` unpriv means yes');
  assert.equal(smtp.chroot, true);
  assert.equal(smtp.maxproc, 100, '`-` maxproc is $default_process_limit');
  assert.equal(local.maxproc, 5);
  assert.equal(local.chroot, false);
  assert.deepEqual(local.args, ['-v']);
  assert.equal(pickup.wakeup, 60);
  assert.equal(pickup.wakeupConditional, false);
  assert.equal(qmgr.wakeup, 300);
  assert.equal(qmgr.wakeupConditional, true);
  assert.equal(qmgr.maxproc, 0, '0 stays unlimited');
  assert.equal(pipe.private, true, '`-` private means yes');
  assert.equal(pipe.unpriv, false);
  assert.equal(pipe.chroot, false, '`-` chroot means no in Postfix 3.x');
  assert.deepEqual(pipe.args, ['flags=F', 'argv=/bin/echo', 'a b', '${recipient}']);
});

test('-o overrides: spaced, braced and glued forms, removed from args', () => {
  const sub = parseMasterCf(SAMPLE).entries[1];
  assert.ok(sub);
  assert.equal(sub.command, 'smtpd');
  assert.deepEqual(sub.args, []);
  assert.deepEqual(
    [...sub.overrides],
    [
      ['syslog_name', 'postfix/submission'],
      ['smtpd_client_restrictions', 'permit_sasl_authenticated, reject'],
      ['smtpd_tls_security_level', 'encrypt'],
    ],
  );
  assert.deepEqual(sub.argv, [
    '-o',
    'syslog_name=postfix/submission',
    '-o',
    'smtpd_client_restrictions=permit_sasl_authenticated, reject',
    '-o',
    'smtpd_tls_security_level=encrypt',
  ]);
});

test('last -o wins', () => {
  const e = parseMasterCf('a unix - - n - - smtpd -o x=1 -o x=2\n').entries[0];
  assert.equal(e?.overrides.get('x'), '2');
});

test('bad columns are fatal problems naming the field and the line', () => {
  const cases: [string, string][] = [
    ['a foo n - n - - smtpd', 'invalid type field "foo" in "a foo n - n - - smtpd"'],
    ['a inet x - n - - smtpd', 'invalid private field "x" in "a inet x - n - - smtpd"'],
    ['a inet n - q - - smtpd', 'invalid chroot field "q" in "a inet n - q - - smtpd"'],
    ['a inet n - n 5x - smtpd', 'invalid wakeup field "5x" in "a inet n - n 5x - smtpd"'],
    ['a inet n - n - -1 smtpd', 'invalid process_limit field "-1" in "a inet n - n - -1 smtpd"'],
    ['a inet n - n - -', 'bad field count'],
  ];
  for (const [line, message] of cases) {
    const r = parseMasterCf(`# x\n${line}\n`);
    assert.deepEqual(r.entries, [], line);
    assert.deepEqual(r.problems, [{ line: 2, message, fatal: true }], line);
  }
});

test('leading whitespace without an entry is a warning, not fatal', () => {
  const r = parseMasterCf('  a inet n - n - - smtpd\nb unix - - n - - smtpd\n');
  assert.equal(r.entries.length, 1);
  assert.equal(r.problems[0]?.fatal, false);
  assert.match(r.problems[0]?.message ?? '', /logical line must not start with whitespace/);
});

test('word splitting with braces', () => {
  assert.deepEqual(splitWords('a { b c } {d} {} e{f}'), ['a', 'b c', 'd', '', 'e{f}']);
  const warnings: string[] = [];
  assert.deepEqual(
    splitWords('x {a', (m) => warnings.push(m)),
    ['x', 'a'],
  );
  assert.deepEqual(warnings, [`missing '}' in "{a"`]);
});

test('inet service names', () => {
  assert.deepEqual(splitInetName('smtp'), { host: undefined, port: 'smtp' });
  assert.deepEqual(splitInetName('127.0.0.1:2525'), { host: '127.0.0.1', port: '2525' });
  assert.deepEqual(splitInetName('[::1]:smtp'), { host: '::1', port: 'smtp' });
});

test('loadMasterCf reads the file and names file and line on fatal errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-mastercf-'));
  try {
    await writeFile(join(dir, 'master.cf'), SAMPLE);
    assert.equal(loadMasterCf(dir).entries.length, 6);
    await writeFile(join(dir, 'master.cf'), 'smtp inet n - n - - smtpd\n\nbad unix z - - - - x\n');
    assert.throws(() => loadMasterCf(dir), {
      message: `${join(dir, 'master.cf')}: line 3: invalid private field "z" in "bad unix z - - - - x"`,
    });
    await rm(join(dir, 'master.cf'));
    assert.throws(() => loadMasterCf(dir), /master\.cf/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('-o counts only among the leading options, as the daemon getopt sees it', () => {
  const r = parseMasterCf(
    'c unix - - n - - pipe argv=x -o x=1\nd unix - - n - - smtpd -vo w=1 -a b -o v=1\ne unix - - n - - smtpd -- -o z=3\n',
  );
  const [c, d, e] = r.entries;
  assert.deepEqual([...(c?.overrides ?? [])], []);
  assert.deepEqual(c?.args, ['argv=x', '-o', 'x=1']);
  assert.deepEqual([...(d?.overrides ?? [])], [['w', '1']]);
  assert.deepEqual(d?.argv, ['-v', '-o', 'w=1', '-a', 'b', '-o', 'v=1']);
  assert.deepEqual(d?.args, ['-v', '-a', 'b', '-o', 'v=1']);
  assert.deepEqual([...(e?.overrides ?? [])], []);
});
