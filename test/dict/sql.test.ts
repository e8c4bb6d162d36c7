// SQL tables against real servers: sqlite always (a file in a temp dir);
// PostgreSQL and MariaDB on loopback as set up by .ci/setup.d/40-dict-databases.sh
// (user/password/database postern_dict), skipped with a reason when unreachable.
// Each run creates its own table, so parallel runs do not collide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DictRetryError } from '../../src/global/dict/dict-api.js';
import { openDictUncached } from '../../src/global/dict/open.js';
import { tempDir } from './helpers.js';

const ROWS: [string, string][] = [
  ['info@example.com', 'joe@example.net'],
  ["it's@example.com", 'quoted@example.net'],
  ['list@example.com', 'one@example.net'],
  ['list@example.com', 'two@example.net'],
  ['bare', 'local-value'],
];

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.on('connect', () => done(true));
    s.on('error', () => done(false));
  });
}

interface Server {
  readonly type: string;
  readonly connection: string;
  /** Create the table with ROWS; returns a function dropping it. */
  create(table: string): Promise<() => Promise<void>>;
}

async function scenario(t: Parameters<typeof tempDir>[0], server: Server): Promise<void> {
  const dir = await tempDir(t);
  const table = `t_${randomBytes(4).toString('hex')}`;
  const drop = await server.create(table);
  try {
    await checks(t, dir, table, server);
  } finally {
    await drop();
  }
}

async function checks(t: Parameters<typeof tempDir>[0], dir: string, table: string, server: Server): Promise<void> {
  const cf = async (name: string, extra: string): Promise<string> => {
    const f = join(dir, name);
    await writeFile(f, `${server.connection}\nquery = SELECT v FROM ${table} WHERE k='%s'\n${extra}\n`);
    return `${server.type}:${f}`;
  };
  const plain = await openDictUncached(await cf('plain.cf', ''));
  t.after(() => plain.close());
  assert.equal(await plain.lookup('INFO@example.com'), 'joe@example.net');
  assert.equal(await plain.lookup("it's@example.com"), 'quoted@example.net', 'quote escaped');
  assert.equal(await plain.lookup("x' OR '1'='1"), undefined, 'injection attempt finds nothing');
  assert.equal(await plain.lookup('list@example.com'), 'one@example.net,two@example.net');
  assert.equal(await plain.lookup('nobody@example.com'), undefined);

  const fmt = await openDictUncached(await cf('fmt.cf', 'result_format = smtp:[%d] for %U\ndomain = example.com'));
  t.after(() => fmt.close());
  assert.equal(await fmt.lookup('info@example.com'), 'smtp:[example.net] for info');
  assert.equal(await fmt.lookup('bare'), undefined, 'domain restriction: no @, no query');

  const dom = await openDictUncached(
    `${server.type}:${await (async () => {
      const f = join(dir, 'dom.cf');
      await writeFile(f, `${server.connection}\nquery = SELECT v FROM ${table} WHERE k='%u@%2.%1' AND '%d' <> ''\n`);
      return f;
    })()}`,
  );
  t.after(() => dom.close());
  assert.equal(await dom.lookup('info@example.com'), 'joe@example.net');
  assert.equal(await dom.lookup('bare'), undefined, '%d without a domain suppresses the query');

  const lim = await openDictUncached(await cf('lim.cf', 'expansion_limit = 1'));
  t.after(() => lim.close());
  assert.equal(await lim.lookup('info@example.com'), 'joe@example.net');
  await assert.rejects(lim.lookup('list@example.com'), DictRetryError);
}

test('sqlite table', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'aliases.sqlite');
  await scenario(t, {
    type: 'sqlite',
    connection: `dbname = ${file}`,
    create(table) {
      const db = new Database(file);
      db.exec(`CREATE TABLE ${table} (k TEXT, v TEXT)`);
      const ins = db.prepare(`INSERT INTO ${table} VALUES (?, ?)`);
      for (const r of ROWS) ins.run(...r);
      db.close();
      return Promise.resolve(() => Promise.resolve());
    },
  });
  const bad = join(dir, 'bad.cf');
  await writeFile(bad, `dbname = ${join(dir, 'absent.sqlite')}\nquery = SELECT 1\n`);
  await assert.rejects(openDictUncached(`sqlite:${bad}`));
});

const CREDS = 'user = postern_dict\npassword = postern_dict\ndbname = postern_dict';

test('pgsql table (PostgreSQL on 127.0.0.1:5432)', async (t) => {
  if (!(await reachable(5432))) return t.skip('PostgreSQL not reachable on 127.0.0.1:5432');
  const pg = (await import('pg')).default;
  const client = new pg.Client({
    host: '127.0.0.1',
    user: 'postern_dict',
    password: 'postern_dict',
    database: 'postern_dict',
  });
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    return t.skip(`PostgreSQL test database not available: ${(e as Error).message}`);
  }
  t.after(() => client.end());
  await scenario(t, {
    type: 'pgsql',
    // The dead first host proves failover to the next one.
    connection: `hosts = inet:127.0.0.1:1 127.0.0.1\n${CREDS}`,
    async create(table) {
      await client.query(`CREATE TABLE ${table} (k text, v text)`);
      for (const r of ROWS) await client.query(`INSERT INTO ${table} VALUES ($1, $2)`, r);
      return async () => void (await client.query(`DROP TABLE ${table}`));
    },
  });
});

test('mysql table (MariaDB on 127.0.0.1:3306)', async (t) => {
  if (!(await reachable(3306))) return t.skip('MariaDB not reachable on 127.0.0.1:3306');
  const mysql = (await import('mysql2/promise')).default;
  let conn: Awaited<ReturnType<typeof mysql.createConnection>>;
  try {
    conn = await mysql.createConnection({
      host: '127.0.0.1',
      user: 'postern_dict',
      password: 'postern_dict',
      database: 'postern_dict',
    });
  } catch (e) {
    return t.skip(`MariaDB test database not available: ${(e as Error).message}`);
  }
  t.after(() => conn.end());
  await scenario(t, {
    type: 'mysql',
    connection: `hosts = inet:127.0.0.1:1 inet:127.0.0.1:3306\n${CREDS}`,
    async create(table) {
      await conn.query(`CREATE TABLE ${table} (k VARCHAR(255), v VARCHAR(255))`);
      for (const r of ROWS) await conn.query(`INSERT INTO ${table} VALUES (?, ?)`, r);
      return async () => void (await conn.query(`DROP TABLE ${table}`));
    },
  });
});
