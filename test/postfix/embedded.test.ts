// The embedded default (`npm start`): its configuration passes `postfix
// check`, and the mail system starts, reports status and stops on it without
// root; embedded.js itself runs in the foreground and stops on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeEmbeddedConfig } from '../../src/commands/postfix/embedded-config.js';
import { freePort, isRoot, nobodySkip } from '../master/harness.js';
import { getCodeRoot, runBin } from './run-bin.js';

test('embedded config: check, start, status, stop', { skip: nobodySkip }, async () => {
  const base = await mkdtemp(join(tmpdir(), 'postern-embedded-'));
  try {
    await chmod(base, 0o755); // as root, mail_owner must reach the queue
    const port = await freePort();
    const paths = writeEmbeddedConfig({ baseDir: base, port, maillogFile: join(base, 'maillog') });
    const mainCf = await readFile(join(paths.configDir, 'main.cf'), 'utf8');
    assert.match(mainCf, /^mydestination = .*localhost/m);
    assert.match(mainCf, new RegExp(`^queue_directory = ${base}/spool$`, 'm'));
    assert.match(
      await readFile(join(paths.configDir, 'master.cf'), 'utf8'),
      new RegExp(`^127\\.0\\.0\\.1:${port} inet n - n - - smtpd$`, 'm'),
    );
    const pf = (cmd: string) => runBin('postfix', ['-c', paths.configDir, cmd]);
    if (isRoot) assert.equal((await pf('set-permissions')).code, 0);
    const check = await pf('check');
    assert.equal(check.code, 0, check.stderr);
    const start = await pf('start');
    assert.equal(start.code, 0, start.stderr);
    assert.equal((await pf('status')).code, 0);
    assert.equal((await pf('stop')).code, 0);
    assert.equal((await pf('status')).code, 1);
    const log = await readFile(join(base, 'maillog'), 'utf8');
    assert.match(log, /postfix\/master\[\d+\]: daemon started -- version /);
    // the queue, scheduler and delivery services of the stock master.cf run (others may still be skipped)
    assert.doesNotMatch(log, /command (cleanup|qmgr|trivial-rewrite|bounce|smtp|error|discard) is not yet supported/);
    assert.doesNotMatch(log, /failed to start/);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('embedded.js runs in the foreground, explains itself, stops on SIGTERM', { skip: nobodySkip }, async () => {
  const base = await mkdtemp(join(tmpdir(), 'postern-embedded-'));
  try {
    await chmod(base, 0o755);
    const port = await freePort();
    const child = spawn(process.execPath, [join(getCodeRoot(), 'dist', 'src', 'commands', 'postfix', 'embedded.js')], {
      env: { ...process.env, POSTERN_VAR: base, POSTERN_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20000;
    while (!/daemon started/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, new RegExp(`swaks --server 127\\.0\\.0\\.1:${port} `));
    assert.match(out, /postfix\/master\[\d+\]: daemon started -- version/);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    assert.equal(await exited, 0);
    clearTimeout(timer);
    assert.match(out, /postfix\/master\[\d+\]: terminating on signal 15/);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
