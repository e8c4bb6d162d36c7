// The service host in-process: modules get their sockets and configuration,
// unsupported/unknown/failing services are logged and their sockets closed,
// reload reaches the running module, stopAll closes everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import type { MasterEntry } from '../../src/global/mastercf/types.js';
import { Config } from '../../src/global/params/config.js';
import { ServiceHost } from '../../src/global/service/service-host.js';
import { projectRoot } from '../postfix/run-bin.js';
import { greeting, LineClient } from './harness.js';

const fixtures = join(projectRoot, 'dist', 'test', 'master', 'fixtures');

function entry(
  name: string,
  type: MasterEntry['type'],
  command: string,
  line: number,
  overrides: Record<string, string> = {},
): MasterEntry {
  return {
    name,
    type,
    columns: ['n', '-', 'n', '-', '-'],
    private: false,
    unpriv: true,
    chroot: false,
    wakeup: 0,
    wakeupConditional: false,
    maxproc: 100,
    command,
    args: [],
    overrides: new Map(Object.entries(overrides)),
    line,
  };
}

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0 });
    });
  });
}

test('services start with their sockets and -o config; the rest are logged and skipped', async () => {
  const log = new MemoryLogger('postfix/master');
  const host = new ServiceHost(log);
  const config = Config.fromText('smtpd_banner = main banner\nmaillog_file =\n');
  const good = await listen();
  const bad = await listen();
  const banner = join(fixtures, 'banner-service.js');
  const entries = [
    entry(`127.0.0.1:${good.port}`, 'inet', banner, 1, { smtpd_banner: 'override banner' }),
    entry(`127.0.0.1:${bad.port}`, 'inet', join(fixtures, 'failing-service.js'), 2),
    entry('qmqpd', 'unix', 'qmqpd', 3),
    entry('weird', 'unix', 'nonsense', 4),
  ];
  try {
    const listeners = new Map([
      [`127.0.0.1:${good.port}/inet`, [good.server]],
      [`127.0.0.1:${bad.port}/inet`, [bad.server]],
    ]);
    const summary = await host.apply(config, entries, listeners);
    assert.deepEqual(summary, { started: 1, skipped: 3, closed: [`127.0.0.1:${bad.port}/inet`] });
    assert.match(await greeting(good.port), /^220 override banner uid=/);
    await assert.rejects(LineClient.open(bad.port, 2000), 'a failed service refuses connections');
    const texts = log.texts().join('\n');
    assert.match(texts, /master\.cf line 2: service .*: .*failing-service\.js failed to start: no database connection/);
    assert.match(texts, /master\.cf line 3: service qmqpd\/unix: command qmqpd is not yet supported; service skipped/);
    assert.match(texts, /master\.cf line 4: service weird\/unix: unknown command nonsense; service skipped/);

    // reload: same program, new -o value, same session keeps working
    const client = await LineClient.open(good.port);
    await client.readLine();
    await host.apply(
      config,
      [entry(`127.0.0.1:${good.port}`, 'inet', banner, 1, { smtpd_banner: 'new banner' })],
      new Map(),
    );
    assert.equal(await client.command('NOOP'), '250 new banner');
    client.close();
  } finally {
    await host.stopAll(false);
  }
  assert.equal(good.server.listening, false, 'stopAll closes the sockets');
});
