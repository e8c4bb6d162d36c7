// The main.cf form of database tables (`sqlite:aliasdb` with
// `aliasdb_dbname`, `aliasdb_query` ... in main.cf; `ldap:ldapsource` with
// `ldapsource_server_host` ...), as Postfix's cfg_parser.c reads any table
// name not starting with `/` or `.`. Driven through postmap -q and openDict
// with a Config; the ldap part needs slapd from .ci/setup.d/41-dict-ldap.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { main } from '../../src/commands/postmap/main.js';
import { openDictUncached } from '../../src/global/dict/open.js';
import { Config } from '../../src/global/params/config.js';
import { runMain, tempDir } from './helpers.js';

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

test('sqlite: main.cf prefix parameters, $-expanded; a ./ name is still a file', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'aliases.sqlite');
  const db = new Database(file);
  db.exec("CREATE TABLE a (k TEXT, v TEXT); INSERT INTO a VALUES ('info@example.com', 'joe@example.net')");
  db.close();
  await writeFile(
    join(dir, 'main.cf'),
    [
      `db_dir = ${dir}`,
      'aliasdb_dbname = $db_dir/aliases.sqlite',
      "aliasdb_query = SELECT v FROM a WHERE k = '%s'",
      'aliasdb_result_format = <%s>',
    ].join('\n') + '\n',
  );
  const hit = await runMain(main, 'postmap', ['-c', dir, '-q', 'INFO@example.com', 'sqlite:aliasdb']);
  assert.deepEqual([hit.code, hit.out, hit.err], [0, '<joe@example.net>\n', '']);
  const miss = await runMain(main, 'postmap', ['-c', dir, '-q', 'x@example.com', 'sqlite:aliasdb']);
  assert.equal(miss.code, 1);
  // Without the prefix parameters the table has no database to open.
  const none = await runMain(main, 'postmap', ['-c', dir, '-q', 'a', 'sqlite:other']);
  assert.equal(none.code, 1);
  assert.match(none.err, /main\.cf: other_\*: missing "dbname"/);
  // Daemons pass their Config: the same parameters answer through openDict.
  const cfg = Config.fromText(`aliasdb_dbname = ${file}\naliasdb_query = SELECT v FROM a WHERE k = '%s'\n`, 'main.cf');
  const d = await openDictUncached('sqlite:aliasdb', { config: cfg });
  t.after(() => d.close());
  assert.equal(await d.lookup('info@example.com'), 'joe@example.net');
  // `./name` and `/name` are files, as in Postfix.
  await writeFile(join(dir, 'a.cf'), `dbname = ${file}\nquery = SELECT 'file:' || v FROM a WHERE k = '%s'\n`);
  const viaFile = await runMain(main, 'postmap', ['-c', dir, '-q', 'info@example.com', `sqlite:${join(dir, 'a.cf')}`]);
  assert.equal(viaFile.out, 'file:joe@example.net\n');
});

test('ldap: main.cf prefix parameters (slapd on 127.0.0.1:389)', async (t) => {
  if (!(await reachable(389))) return t.skip('slapd not reachable on 127.0.0.1:389');
  const cfg = Config.fromText(
    [
      'ldapsource_server_host = 127.0.0.1',
      'ldapsource_server_port = 389',
      'ldapsource_search_base = ou=aliases,dc=example,dc=com',
      'ldapsource_query_filter = (mail=%s)',
      'ldapsource_result_attribute = description',
      'ldapsource_bind_dn = cn=admin,dc=example,dc=com',
      'ldapsource_bind_pw = postern_dict',
    ].join('\n'),
    'main.cf',
  );
  const d = await openDictUncached('ldap:ldapsource', { config: cfg });
  t.after(() => d.close());
  const v = await d.lookup('info@example.com');
  if (v === undefined) return t.skip('LDAP test entries missing (run .ci/setup.d/41-dict-ldap.sh)');
  assert.equal(v, 'joe@example.net');
  assert.equal(await d.lookup('nobody@example.com'), undefined);
});
