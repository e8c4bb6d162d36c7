// address_verify_map on disk: a btree: file is created (with its directory)
// on first use, survives a close and reopen, can be read and listed with
// postmap -q / -s like any Postern table, and only indexed file types are
// accepted (anything else falls back to memory with one warning).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LazyVerifyMap, openVerifyMap, UnsupportedVerifyMapError } from '../../src/daemons/verify/cache-map.js';
import { runBin } from '../postfix/run-bin.js';

test('a btree: cache persists across reopen and reads with postmap', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-vcache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'data', 'verify_cache');
  const lazy = new LazyVerifyMap(`btree:${file}`, (w) => assert.fail(w));
  assert.equal(existsSync(`${file}.db`), false, 'nothing is created before first use');
  for await (const e of lazy.entries()) assert.fail(`unexpected entry ${e[0]}`);
  assert.equal(existsSync(`${file}.db`), false);
  await lazy.put('bob@example.net', '2:0:1700000000:550 no');
  await lazy.put('alice@example.net', '0:0:1700000000:250 Ok');
  await lazy.delete(['bob@example.net']);
  await lazy.put('bob@example.net', '1:0:1700000001:try later');
  await lazy.close();

  const again = await openVerifyMap(`btree:${file}`);
  assert.equal(again.name, `${file}.db`, 'the cleanup log line names the file');
  assert.equal(await again.get('alice@example.net'), '0:0:1700000000:250 Ok');
  assert.equal(await again.get('bob@example.net'), '1:0:1700000001:try later');
  const all: string[] = [];
  for await (const [k] of again.entries()) all.push(k);
  assert.deepEqual(all.sort(), ['alice@example.net', 'bob@example.net']);
  await again.close();

  const q = await runBin('postmap', ['-q', 'alice@example.net', `btree:${file}`]);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stdout, '0:0:1700000000:250 Ok\n');
  const s = await runBin('postmap', ['-s', `btree:${file}`]);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /^bob@example\.net\t1:0:1700000001:try later$/m);
});

test('only hash/btree/lmdb files can hold the cache; others fall back to memory once', async () => {
  await assert.rejects(openVerifyMap('memcache:/etc/postfix/verify-memcache.cf'), UnsupportedVerifyMapError);
  await assert.rejects(openVerifyMap('btree:relative/path'), UnsupportedVerifyMapError);
  const warnings: string[] = [];
  const m = new LazyVerifyMap('redis:/etc/postfix/redis.cf', (w) => warnings.push(w));
  await m.put('a@b', '0:0:1:x');
  assert.equal(await m.get('a@b'), '0:0:1:x');
  assert.equal(m.name, 'memory');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /address_verify_map = redis:.*kept in memory only$/);
  const mem = await openVerifyMap('');
  assert.equal(mem.name, 'memory');
});
