// master(8) and postfix(1) end to end: start, status, stop, double start,
// stale pid file, reload without dropping sessions, worker restart after a
// crash, abort, and (as root) the worker running as mail_owner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { getpw } from '../../src/util/passwd.js';
import { createServer, type AddressInfo } from 'node:net';
import { FIXTURE, freePort, greeting, isRoot, LineClient, makeMailSystem, nobodySkip } from './harness.js';

const LOG_LINE = /^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d mx (\S+)\[(\d+)\]: (.*)$/;

test('start, status, double start, stop, status (unprivileged)', { skip: nobodySkip }, async () => {
  const sys = await makeMailSystem({ unprivileged: true });
  try {
    const started = await sys.postfix('start');
    assert.equal(started.code, 0, started.stderr);
    const pidFile = join(sys.queueDir, 'pid', 'master.pid');
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(pid > 0);

    const st = await sys.postfix('status');
    assert.equal(st.code, 0);
    assert.match(
      st.stderr,
      new RegExp(`^postfix/postfix-script: the Postfix mail system is running: PID: ${pid}$`, 'm'),
    );

    const hello = await greeting(sys.port);
    assert.match(hello, /^220 test banner uid=\d+ pid=\d+$/);
    // the service runs in the worker, not in master
    assert.notEqual(/pid=(\d+)/.exec(hello)?.[1], String(pid));

    const again = await sys.postfix('start');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /fatal: the Postfix mail system is already running/);

    const stopped = await sys.postfix('stop');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(existsSync(pidFile), false, 'pid file removed');
    const after = await sys.postfix('status');
    assert.equal(after.code, 1);
    assert.match(after.stderr, /the Postfix mail system is not running/);
    await assert.rejects(LineClient.open(sys.port, 2000), 'listener closed after stop');

    const lines = (await sys.log()).trimEnd().split('\n');
    const parsed = lines.map((l) => LOG_LINE.exec(l));
    assert.ok(parsed.every(Boolean), `every line has Postfix's shape:\n${lines.join('\n')}`);
    const texts = parsed.map((m) => `${m?.[1]}: ${m?.[3]}`);
    assert.ok(texts.includes('postfix/postfix-script: starting the Postfix mail system'));
    assert.ok(texts.includes(`postfix/master: daemon started -- version 3.7.11, configuration ${sys.configDir}`));
    assert.ok(texts.includes('postfix/postfix-script: fatal: the Postfix mail system is already running'));
    assert.ok(texts.includes('postfix/postfix-script: stopping the Postfix mail system'));
    assert.ok(texts.includes('postfix/master: terminating on signal 15'));
    assert.ok(
      texts.includes(
        'postfix/master: warning: master.cf line 3: service qmqpd/unix: command qmqpd is not yet supported; service skipped',
      ),
    );
    assert.ok(
      parsed.some((m) => m?.[1] === 'postfix/master' && m[2] === String(pid)),
      'master lines carry its pid',
    );
  } finally {
    await sys.cleanup();
  }
});

test('a stale pid file does not block start', { skip: nobodySkip }, async () => {
  const sys = await makeMailSystem();
  try {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    await mkdir(join(sys.queueDir, 'pid'), { recursive: true });
    await writeFile(join(sys.queueDir, 'pid', 'master.pid'), `${String(dead).padStart(10)}\n`);
    assert.equal((await sys.postfix('status')).code, 1);
    const r = await sys.postfix('start');
    assert.equal(r.code, 0, r.stderr);
    const pid = Number((await readFile(join(sys.queueDir, 'pid', 'master.pid'), 'utf8')).trim());
    assert.notEqual(pid, dead);
    assert.match(await greeting(sys.port), /^220 test banner/);
    // a changed syslog_name restarts the service, whose lines then carry the new tag
    await sys.writeMasterCf(`127.0.0.1:${sys.port} inet n - n - - ${FIXTURE}\n  -o syslog_name=postfix/$service_name`);
    assert.equal((await sys.postfix('reload')).code, 0);
    await sys.waitForLog(
      new RegExp(
        ` postfix/127\\.0\\.0\\.1:${sys.port}/banner-service\\[\\d+\\]: banner service started: test banner\n`,
      ),
    );
  } finally {
    await sys.cleanup();
  }
});

test('reload applies new -o values without dropping a session in progress', { skip: nobodySkip }, async () => {
  const sys = await makeMailSystem();
  try {
    assert.equal((await sys.postfix('start')).code, 0);
    const client = await LineClient.open(sys.port);
    assert.match(await client.readLine(), /^220 test banner /);
    await sys.writeMasterCf(`127.0.0.1:${sys.port} inet n - n - - ${FIXTURE} -o { smtpd_banner = reloaded banner }`);
    assert.equal((await sys.postfix('reload')).code, 0);
    await sys.waitForLog(/banner service reloaded: reloaded banner/);
    assert.match(await sys.log(), /postfix\/master\[\d+\]: reload -- version 3\.7\.11, configuration /);
    assert.match(await greeting(sys.port), /^220 reloaded banner /);
    // the old session is still served, now with the new value
    assert.equal(await client.command('NOOP'), '250 reloaded banner');
    client.close();
  } finally {
    await sys.cleanup();
  }
});

test(
  'reload binds new inet services, closes removed ones, and skips one that cannot bind',
  { skip: nobodySkip },
  async () => {
    const sys = await makeMailSystem();
    const blocker = createServer();
    try {
      assert.equal((await sys.postfix('start')).code, 0);
      const p2 = await freePort();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      const busy = (blocker.address() as AddressInfo).port;
      const line = (port: number, banner: string): string =>
        `127.0.0.1:${port} inet n - n - - ${FIXTURE} -o { smtpd_banner = ${banner} }`;
      await sys.writeMasterCf(`${line(sys.port, 'one')}\n${line(p2, 'two')}\n${line(busy, 'three')}`);
      assert.equal((await sys.postfix('reload')).code, 0);
      await sys.waitForLog(
        new RegExp(
          `service 127\\.0\\.0\\.1:${busy}/inet: bind 127\\.0\\.0\\.1 port ${busy}: Address already in use; service skipped`,
        ),
      );
      assert.match(await greeting(p2), /^220 two /);
      assert.match(await greeting(sys.port), /^220 one /);
      await sys.writeMasterCf(line(p2, 'two'));
      assert.equal((await sys.postfix('reload')).code, 0);
      const deadline = Date.now() + 15000;
      let refused = false;
      while (!refused && Date.now() < deadline) {
        refused = await LineClient.open(sys.port, 1000).then(
          (c) => (c.close(), false),
          () => true,
        );
        if (!refused) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(refused, 'the removed service no longer accepts connections');
      assert.match(await greeting(p2), /^220 two /);
    } finally {
      blocker.close();
      await sys.cleanup();
    }
  },
);

test('reload with a broken master.cf keeps the running configuration', { skip: nobodySkip }, async () => {
  const sys = await makeMailSystem();
  try {
    assert.equal((await sys.postfix('start')).code, 0);
    await writeFile(join(sys.configDir, 'master.cf'), `127.0.0.1:${sys.port} inet n - n\n`);
    const r = await sys.postfix('reload');
    assert.equal(r.code, 1, 'postfix reload refuses a broken master.cf');
    assert.match(r.stderr, /master\.cf: line 1: bad field count/);
    // master itself, signalled directly, logs the problem and keeps serving
    const pid = Number((await readFile(join(sys.queueDir, 'pid', 'master.pid'), 'utf8')).trim());
    process.kill(pid, 'SIGHUP');
    await sys.waitForLog(
      /postfix\/master\[\d+\]: error: reload: .*master\.cf: line 1: bad field count.*; keeping the previous configuration/,
    );
    assert.match(await greeting(sys.port), /^220 test banner/);
  } finally {
    await sys.cleanup();
  }
});

test('a crashed worker is restarted and serves again', { skip: nobodySkip }, async () => {
  const sys = await makeMailSystem();
  try {
    assert.equal((await sys.postfix('start')).code, 0);
    const first = await greeting(sys.port);
    const workerPid = Number(/pid=(\d+)/.exec(first)?.[1]);
    assert.ok(workerPid > 0);
    process.kill(workerPid, 'SIGKILL');
    await sys.waitForLog(
      new RegExp(`warning: process core pid ${workerPid} killed by signal ${constants.signals.SIGKILL}`),
    );
    const deadline = Date.now() + 20000;
    let next = '';
    while (Date.now() < deadline) {
      next = await greeting(sys.port);
      if (!next.includes(`pid=${workerPid}`)) break;
    }
    assert.match(next, /^220 test banner /);
    assert.doesNotMatch(next, new RegExp(`pid=${workerPid}$`));
  } finally {
    await sys.cleanup();
  }
});

test('abort stops at once', { skip: nobodySkip }, async () => {
  const sys = await makeMailSystem();
  try {
    assert.equal((await sys.postfix('start')).code, 0);
    const r = await sys.postfix('abort');
    assert.equal(r.code, 0);
    assert.match(r.stderr, /aborting the Postfix mail system/);
    assert.equal((await sys.postfix('status')).code, 1);
    assert.match(await sys.log(), /postfix\/master\[\d+\]: terminating on signal 3/);
  } finally {
    await sys.cleanup();
  }
});

test('as root, the worker runs as mail_owner', { skip: (!isRoot && 'needs root') || nobodySkip }, async () => {
  const sys = await makeMailSystem();
  try {
    assert.equal((await sys.postfix('start')).code, 0);
    const nobody = getpw('nobody');
    assert.ok(nobody);
    assert.match(await greeting(sys.port), new RegExp(`uid=${nobody.uid} `));
  } finally {
    await sys.cleanup();
  }
});

test(
  'without root, start is refused unless mail_owner is the invoking user',
  { skip: isRoot && 'runs as root' },
  async () => {
    const sys = await makeMailSystem({ extraMainCf: 'mail_owner = postfix\n' });
    try {
      const r = await sys.postfix('start');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /set mail_owner = /);
    } finally {
      await sys.cleanup();
    }
  },
);
