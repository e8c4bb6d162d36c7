// main.cf and master.cf editing without the real postconf: comments, order and
// continuation lines survive; edited master.cf entries come back folded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { editMainCf, editMainCfText, type MainCfEdit } from '../../src/commands/postconf/edit-main-cf.js';
import { editMasterCfText, parseMasterEdit } from '../../src/commands/postconf/edit-master-cf.js';
import { formatEntry } from '../../src/commands/postconf/master-format.js';
import { parseMasterCf } from '../../src/global/mastercf/parse.js';

const MAIN = '# head\nmyhostname = a.example\n  continued\n# mid\nrelayhost = x\nmydomain=b\n';

test('set replaces in place, drops continuation lines, appends new names', () => {
  const edits = new Map<string, MainCfEdit>([
    ['myhostname', { kind: 'set', value: 'new.example' }],
    ['zzz', { kind: 'set', value: '1' }],
    ['aaa', { kind: 'set', value: '' }],
  ]);
  assert.equal(
    editMainCfText(MAIN, edits),
    '# head\nmyhostname = new.example\n# mid\nrelayhost = x\nmydomain=b\naaa = \nzzz = 1\n',
  );
});

test('remove and comment-out take the continuation lines along', () => {
  assert.equal(
    editMainCfText(MAIN, new Map([['myhostname', { kind: 'remove' }]])),
    '# head\n# mid\nrelayhost = x\nmydomain=b\n',
  );
  assert.equal(
    editMainCfText(MAIN, new Map([['myhostname', { kind: 'comment' }]])),
    '# head\n#myhostname = a.example\n#  continued\n# mid\nrelayhost = x\nmydomain=b\n',
  );
});

test('editMainCf rewrites atomically and keeps the file mode', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-edit-'));
  try {
    const file = join(dir, 'main.cf');
    await writeFile(file, MAIN);
    await chmod(file, 0o640);
    editMainCf(file, new Map([['relayhost', { kind: 'set', value: '[mx.example]:587' }]]));
    assert.match(await readFile(file, 'utf8'), /^relayhost = \[mx\.example\]:587$/m);
    assert.equal((await stat(file)).mode & 0o777, 0o640);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('master.cf entries print in aligned columns and fold below 80 columns', () => {
  const [e] = parseMasterCf(
    'submission inet n - y - - smtpd -o syslog_name=postfix/submission -o { a = b c }\n',
  ).entries;
  assert.ok(e);
  assert.equal(
    formatEntry(e, false),
    'submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission -o {a=b c}',
  );
  assert.equal(
    formatEntry(e, true),
    'submission inet  n       -       y       -       -       smtpd\n    -o syslog_name=postfix/submission\n    -o {a=b c}',
  );
  const [long] = parseMasterCf('averyveryverylongservicename unix-dgram n - n - - smtpd\n').entries;
  assert.ok(long);
  assert.equal(formatEntry(long, false), 'averyveryverylongservicename unix-dgram n - n -  -       smtpd');
});

test('master.cf edits: -Me replaces by the new text name, -Pe/-PX/-Fe/-MX', () => {
  const master = '# hello\nc unix - - - - - pipe aaaaa\n  -o x=1\nd unix - - - - - smtpd -o a=1\n';
  const run = (mode: 'M' | 'F' | 'P', op: 'e' | 'X' | '#', ...args: string[]): string =>
    editMasterCfText(
      master,
      args.map((a) => parseMasterEdit(mode, op, a)),
    ).text;
  assert.equal(
    run('M', 'e', 'x/unix=c unix - n - - - pipe bbb'),
    '# hello\nc          unix  -       n       -       -       -       pipe bbb\nd unix - - - - - smtpd -o a=1\n',
  );
  assert.equal(
    run('P', 'e', 'd/unix/b=2'),
    '# hello\nc unix - - - - - pipe aaaaa\n  -o x=1\nd          unix  -       -       -       -       -       smtpd\n    -o a=1\n    -o b=2\n',
  );
  assert.match(run('P', 'X', 'd/unix/a'), /^d {10}unix .* smtpd$/m);
  assert.match(run('F', 'e', 'd/unix/process_limit=7'), /^d {10}unix {2}- {7}- {7}- {7}- {7}7 {7}smtpd$/m);
  assert.equal(run('M', 'X', 'c/unix'), '# hello\nd unix - - - - - smtpd -o a=1\n');
  assert.equal(
    run('M', '#', 'd/unix'),
    '# hello\nc unix - - - - - pipe aaaaa\n  -o x=1\n#d unix - - - - - smtpd -o a=1\n',
  );
  assert.throws(() => parseMasterEdit('P', 'e', 'd/unix/b=two words'), /does not accept whitespace/);
  assert.throws(() => run('F', 'e', 'd/unix/private=q'), /invalid private field "q"/);
  const unmatched = editMasterCfText(master, [parseMasterEdit('P', 'e', 'zz/unix/q=1')]);
  assert.deepEqual(unmatched.warnings, ['unmatched service_name/type: "zz/unix/q=1"']);
});
