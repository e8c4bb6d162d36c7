// Client tables over sockets: socketmap (netstring protocol) and tcp
// (tcp_table(5)) against small loopback servers written here, memcache and
// redis against the real servers when reachable (skipped with a reason otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { DictRetryError } from '../../src/global/dict/dict-api.js';
import { openDictUncached } from '../../src/global/dict/open.js';
import { tcpDecode, tcpEncode } from '../../src/global/dict/socket-client.js';
import { tempDir } from './helpers.js';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

test('socketmap: OK, NOTFOUND, TEMP and a dead server', async (t) => {
  const seen: string[] = [];
  const server = createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      for (let m = /^(\d+):/.exec(buf); m; m = /^(\d+):/.exec(buf)) {
        const len = Number(m[1]);
        const start = (m[1] ?? '').length + 1;
        if (buf.length < start + len + 1) return;
        const req = buf.slice(start, start + len);
        buf = buf.slice(start + len + 1);
        seen.push(req);
        const key = req.split(' ')[1] ?? '';
        const reply = key === 'known' ? 'OK the value' : key === 'broken' ? 'TEMP database down' : 'NOTFOUND ';
        sock.write(`${Buffer.byteLength(reply)}:${reply},`);
      }
    });
  });
  const port = await listen(server);
  t.after(() => server.close());
  const d = await openDictUncached(`socketmap:inet:127.0.0.1:${port}:virtual`);
  t.after(() => d.close());
  const answers = await Promise.all([d.lookup('known'), d.lookup('other'), d.lookup('known')]);
  assert.deepEqual(answers, ['the value', undefined, 'the value']);
  await assert.rejects(d.lookup('broken'), DictRetryError);
  assert.deepEqual(seen, ['virtual known', 'virtual other', 'virtual known', 'virtual broken']);
  const dead = await openDictUncached('socketmap:inet:127.0.0.1:1:x');
  await assert.rejects(dead.lookup('k'), DictRetryError);
});

test('tcp: get requests with %XX encoding, 200/500/400 replies', async (t) => {
  assert.equal(tcpEncode('a b%c\u00e9'), 'a%20b%25c%C3%A9');
  assert.equal(tcpDecode('a%20b%25c%C3%A9'), 'a b%c\u00e9');
  const server = createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const key = tcpDecode(line.replace(/^get /, ''));
        sock.write(key === 'user one' ? '200 hello%20world\n' : key === 'temp' ? '400 try later\n' : '500 not found\n');
      }
    });
  });
  const port = await listen(server);
  t.after(() => server.close());
  const d = await openDictUncached(`tcp:127.0.0.1:${port}`);
  t.after(() => d.close());
  assert.equal(await d.lookup('user one'), 'hello world');
  assert.equal(await d.lookup('nobody'), undefined);
  await assert.rejects(d.lookup('temp'), DictRetryError);
});

test('socketmap: a server that closes after each reply is reconnected', async (t) => {
  const server = createServer((sock) => {
    sock.once('data', () => sock.end('6:OK yes,'));
  });
  const port = await listen(server);
  t.after(() => server.close());
  const d = await openDictUncached(`socketmap:inet:127.0.0.1:${port}:m`);
  t.after(() => d.close());
  for (let i = 0; i < 3; i++) {
    assert.equal(await d.lookup(`k${i}`), 'yes');
    // Let the server's close arrive before the next request.
    await new Promise((r) => setTimeout(r, 20));
  }
});

test("socketmap: a request racing the server's close is retried once on a new connection", async (t) => {
  let connections = 0;
  const server = createServer((sock) => {
    connections++;
    sock.once('data', () => sock.end('6:OK yes,'));
  });
  const port = await listen(server);
  t.after(() => server.close());
  const d = await openDictUncached(`socketmap:inet:127.0.0.1:${port}:m`);
  t.after(() => d.close());
  for (let i = 0; i < 5; i++) assert.equal(await d.lookup(`k${i}`), 'yes');
  assert.equal(connections, 5);
});

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

test('memcache table (memcached on 127.0.0.1:11211)', async (t) => {
  if (!(await reachable(11211))) return t.skip('memcached not reachable on 127.0.0.1:11211');
  const dir = await tempDir(t);
  const prefix = `postern-${randomBytes(4).toString('hex')}`;
  const value = 'relay:[mx.example.net] with spaces';
  await new Promise<void>((resolve, reject) => {
    const s = connect(11211, '127.0.0.1', () =>
      s.write(`set ${prefix}:user@example.com 0 60 ${Buffer.byteLength(value)}\r\n${value}\r\n`),
    );
    s.on('data', (d) => (s.end(), d.toString().startsWith('STORED') ? resolve() : reject(new Error(d.toString()))));
    s.on('error', reject);
  });
  const cf = join(dir, 'mc.cf');
  await writeFile(cf, `memcache = inet:127.0.0.1:11211\nkey_format = ${prefix}:%s\ndomain = example.com\n`);
  const d = await openDictUncached(`memcache:${cf}`);
  t.after(() => d.close());
  assert.equal(await d.lookup('USER@example.com'), value);
  assert.equal(await d.lookup('other@example.com'), undefined);
  assert.equal(await d.lookup('user@elsewhere.org'), undefined);
  assert.equal(await d.lookup('has space@example.com'), undefined);
});

test('redis table (redis on 127.0.0.1:6379)', async (t) => {
  if (!(await reachable(6379))) return t.skip('redis not reachable on 127.0.0.1:6379');
  const { Redis } = await import('ioredis');
  const r = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  t.after(() => r.disconnect());
  const prefix = `postern-${randomBytes(4).toString('hex')}`;
  await r.set(`${prefix}:example.com`, 'OK', 'EX', 60);
  const dir = await tempDir(t);
  const cf = join(dir, 'redis.cf');
  await writeFile(cf, `hosts = 127.0.0.1:6379\nkey_format = ${prefix}:%d\n`);
  const d = await openDictUncached(`redis:${cf}`);
  t.after(() => d.close());
  assert.equal(await d.lookup('anyone@EXAMPLE.com'), 'OK');
  assert.equal(await d.lookup('anyone@example.org'), undefined);
  assert.equal(await d.lookup('no-domain'), undefined);
});
