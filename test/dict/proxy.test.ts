// proxy: tables are served only when approved in $proxy_read_maps, as
// proxymap(8) does: by default every table named in the parameters it lists
// (e.g. $alias_maps), refused with Postfix's wording otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../src/commands/postmap/main.js';
import { DictOpenError, openDictUncached } from '../../src/global/dict/open.js';
import { Config } from '../../src/global/params/config.js';
import { runMain, tempDir } from './helpers.js';

test('proxy: approved through $proxy_read_maps, refused otherwise', async (t) => {
  const dir = await tempDir(t);
  const map = join(dir, 'map');
  await writeFile(map, 'key value\n');
  await writeFile(join(dir, 'main.cf'), `alias_maps = proxy:texthash:${map}\n`);
  const ok = await runMain(main, 'postmap', ['-c', dir, '-q', 'key', `proxy:texthash:${map}`]);
  assert.deepEqual([ok.code, ok.out, ok.err], [0, 'value\n', '']);

  await writeFile(join(dir, 'main.cf'), `alias_maps = texthash:${map}\n`);
  const denied = await runMain(main, 'postmap', ['-c', dir, '-q', 'key', `proxy:texthash:${map}`]);
  assert.equal(denied.code, 1);
  assert.equal(
    denied.err,
    `postmap: warning: request for unapproved table: "texthash:${map}"\n` +
      `postmap: warning: to approve this table for read-only access, list proxy:texthash:${map} in main.cf:proxy_read_maps\n` +
      `postmap: fatal: proxymap service is not configured for table "texthash:${map}"\n`,
  );

  // An explicit proxy_read_maps replaces the default list.
  const cfg = Config.fromText(`proxy_read_maps = proxy:inline:{a=1}\nalias_maps = proxy:texthash:${map}\n`, 'main.cf');
  const quiet = { config: cfg, warn: (): void => undefined };
  assert.equal(await (await openDictUncached('proxy:inline:{a=1}', quiet)).lookup('a'), '1');
  await assert.rejects(openDictUncached(`proxy:texthash:${map}`, quiet), DictOpenError);
});
