// Pure parts of master: inet endpoints from service names, inet_interfaces and
// inet_protocols; the pid-file lock; the IPC decoders; getopt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config } from '../../src/global/params/config.js';
import { EndpointError, endpointKey, inetEndpoints } from '../../src/daemons/master/inet-endpoints.js';
import { acquirePidFile, AlreadyRunningError, readPidFile, releasePidFile } from '../../src/daemons/master/pid-file.js';
import { decodeMasterMessage, decodeWorkerMessage } from '../../src/daemons/master/ipc.js';
import { getopt, UsageError } from '../../src/util/getopt.js';

const keys = (name: string, main = ''): string[] => inetEndpoints(name, Config.fromText(main)).map(endpointKey);

test('inet service names: host:port, [v6]:port, port names, interfaces and protocols', () => {
  assert.deepEqual(keys('127.0.0.1:2525'), ['127.0.0.1:2525']);
  assert.deepEqual(keys('[::1]:smtp'), ['[::1]:25']);
  assert.deepEqual(keys('submission', 'inet_interfaces = all\ninet_protocols = ipv4'), ['0.0.0.0:587']);
  assert.deepEqual(keys('smtp', 'inet_interfaces = all\ninet_protocols = all'), ['[::]:25']);
  assert.deepEqual(keys('2525', 'inet_interfaces = loopback-only\ninet_protocols = all'), [
    '127.0.0.1:2525',
    '[::1]:2525',
  ]);
  assert.deepEqual(keys('2525', 'inet_interfaces = 127.0.0.2, 127.0.0.3\ninet_protocols = ipv4'), [
    '127.0.0.2:2525',
    '127.0.0.3:2525',
  ]);
  assert.throws(() => keys('nosuchservice'), EndpointError);
  assert.throws(() => keys('70000'), EndpointError);
  assert.throws(() => keys('[::1]:25', 'inet_protocols = ipv4'), EndpointError);
});

test('pid file: one owner at a time, stale files are taken over', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-pid-'));
  const file = join(dir, 'master.pid');
  try {
    acquirePidFile(file);
    assert.equal(readPidFile(file), process.pid);
    assert.match(await readFile(file, 'utf8'), /^ +\d+\n$/);
    releasePidFile(file);
    assert.equal(readPidFile(file), undefined);
    // a live master (by its command line) is respected
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)', 'x/daemons/master/main.js'], {
      stdio: 'ignore',
    });
    try {
      await new Promise((r) => other.once('spawn', r));
      await writeFile(file, `${other.pid}\n`);
      assert.throws(() => acquirePidFile(file), AlreadyRunningError);
    } finally {
      other.kill('SIGKILL');
    }
    // a live process that is not a master (a recycled pid) does not block
    await writeFile(file, `${process.pid}\n`);
    acquirePidFile(file, process.pid + 1);
    assert.equal(readPidFile(file), process.pid + 1);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid ?? 0;
    await writeFile(file, `${dead}\n`);
    acquirePidFile(file);
    assert.equal(readPidFile(file), process.pid);
    await writeFile(file, 'garbage\n');
    assert.equal(readPidFile(file), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('IPC decoders accept exact shapes only', () => {
  assert.deepEqual(decodeMasterMessage({ type: 'stop', graceful: true }), { type: 'stop', graceful: true });
  assert.equal(decodeMasterMessage({ type: 'stop', graceful: 'yes' }), undefined);
  assert.equal(decodeMasterMessage({ type: 'stop', graceful: true, extra: 1 }), undefined);
  assert.equal(decodeMasterMessage({ type: 'listener', service: 'smtp/inet' }), undefined);
  assert.equal(decodeMasterMessage('stop'), undefined);
  assert.equal(
    decodeMasterMessage({ type: 'configure', configDir: '/etc/postfix', reload: false, entries: [{ name: 'x' }] }),
    undefined,
  );
  assert.ok(decodeWorkerMessage({ type: 'ready', started: 1, skipped: 0, closed: [] }));
  assert.equal(decodeWorkerMessage({ type: 'ready', started: 1, skipped: 0, closed: [3] }), undefined);
  assert.equal(decodeWorkerMessage({ type: 'bogus' }), undefined);
});

test('getopt: bundled flags, attached and separate arguments, --', () => {
  assert.deepEqual(getopt(['-vc', '/etc/x', 'start'], 'c:v'), {
    options: [
      { flag: 'v', value: '' },
      { flag: 'c', value: '/etc/x' },
    ],
    operands: ['start'],
  });
  assert.deepEqual(getopt(['-c/etc/y', '--', '-p'], 'c:p').operands, ['-p']);
  assert.throws(() => getopt(['-x'], 'c:'), UsageError);
  assert.throws(() => getopt(['-c'], 'c:'), UsageError);
});
