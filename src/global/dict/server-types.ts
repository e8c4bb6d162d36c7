// Openers for tables answered by database servers (pgsql, mysql, sqlite,
// memcache, redis), kept apart from open.ts so that file and pattern tables
// do not load database drivers: each driver is imported when first used.
import type { DictOpener } from './open.js';
import { memcacheDict, redisDict } from './server/cache-servers.js';
import { TableConfig } from './server/config-file.js';
import { ldapDict } from './server/ldap-dict.js';
import { mysqlBackend, pgsqlBackend, sqliteBackend } from './server/sql-backends.js';
import { sqlDict, type SqlBackend } from './server/sql-dict.js';

const sql =
  (backend: (cfg: TableConfig) => Promise<SqlBackend>): DictOpener =>
  async (c) => {
    const cfg = await TableConfig.open(c.name, c.config);
    return sqlDict(c.spec, cfg, await backend(cfg), c.fold);
  };

export const SERVER_TYPES: Record<string, DictOpener> = {
  pgsql: sql(pgsqlBackend),
  mysql: sql(mysqlBackend),
  sqlite: sql(sqliteBackend),
  memcache: async (c) => memcacheDict(c.spec, await TableConfig.open(c.name, c.config), c.fold),
  ldap: async (c) => ldapDict(c.spec, await TableConfig.open(c.name, c.config), c.fold, c.warn),
  redis: async (c) => redisDict(c.spec, await TableConfig.open(c.name, c.config), c.fold),
};
