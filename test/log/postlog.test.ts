// postlog(1) end to end: the real bin/postlog writing to maillog_file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBin } from '../postfix/run-bin.js';

async function configDir(extra = ''): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-postlog-'));
  await writeFile(
    join(dir, 'main.cf'),
    `myhostname = mail.example.org\nmaillog_file = ${dir}/maillog\nmaillog_file_prefixes = ${dir}\n${extra}`,
  );
  return dir;
}

test('postlog logs its operands with priority and tag', async () => {
  const dir = await configDir();
  try {
    assert.equal((await runBin('postlog', ['-c', dir, 'hello', 'world'])).code, 0);
    assert.equal((await runBin('postlog', ['-c', dir, '-p', 'warning', 'careful'])).code, 0);
    assert.equal((await runBin('postlog', ['-c', dir, '-i', '-t', 'mytag', '-p', 'err', 'an error'])).code, 0);
    const lines = (await readFile(join(dir, 'maillog'), 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? '', /^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d mail postfix\/postlog\[\d+\]: hello world$/);
    assert.match(lines[1] ?? '', / postfix\/postlog\[\d+\]: warning: careful$/);
    assert.match(lines[2] ?? '', / mytag\[\d+\]: error: an error$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('postlog reads one record per stdin line and escapes control characters', async () => {
  const dir = await configDir('syslog_name = mailer\n');
  try {
    const r = await runBin('postlog', ['-c', dir], { input: 'line1\nline\t2\n' });
    assert.equal(r.code, 0);
    const lines = (await readFile(join(dir, 'maillog'), 'utf8')).trimEnd().split('\n');
    assert.deepEqual(
      lines.map((l) => l.replace(/^.*?\]: /, '')),
      ['line1', 'line?2'],
    );
    assert.match(lines[0] ?? '', / mailer\/postlog\[/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('postlog rejects bad priorities and options; exits without a syslog daemon', async () => {
  const dir = await configDir();
  try {
    const bad = await runBin('postlog', ['-c', dir, '-p', 'bogus', 'x']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown priority value: bogus/);
    const opt = await runBin('postlog', ['-c', dir, '-x']);
    assert.equal(opt.code, 1);
    assert.match(opt.stderr, /invalid option -- 'x'/);
    // No maillog_file: syslog to a socket that may not exist; must still exit promptly.
    await writeFile(join(dir, 'main.cf'), 'syslog_facility = local3\n');
    assert.equal((await runBin('postlog', ['-c', dir, 'to syslog'], { timeoutMs: 10000 })).code, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
