// Database drivers behind the SQL tables: pg (pgsql), mysql2 (mysql) and
// better-sqlite3 (sqlite). Each is loaded only when such a table is opened.
// `hosts` lists servers tried in order, so a dead primary fails over to the
// next; connections are pooled per table. Errors become DictRetryError upstream.
import { DictRetryError } from '../dict-api.js';
import { TableSyntaxError } from '../table-source.js';
import type { TableConfig } from './config-file.js';
import type { SqlBackend } from './sql-dict.js';

interface HostSpec {
  readonly host?: string;
  readonly port?: number;
  readonly socket?: string;
}

/** `host`, `host:port`, `inet:host:port`, `[v6]:port` or `unix:/path`. */
export function parseHost(text: string, defaultPort: number): HostSpec {
  if (text.startsWith('unix:')) return { socket: text.slice(5) };
  const t = text.startsWith('inet:') ? text.slice(5) : text;
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(t) ?? /^([^:]+)(?::(\d+))?$/.exec(t);
  if (!m?.[1]) throw new TableSyntaxError(`bad host specification: "${text}"`);
  return { host: m[1], port: m[2] ? Number(m[2]) : defaultPort };
}

const doubleQuotes = (s: string): string => s.replace(/'/g, "''");

/** A column value as text: drivers give strings, numbers, bigints, Buffers or Dates. */
function columnText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v) ?? null;
}

/** Run `fn` against each pool in order until one answers. */
async function failover<P, T>(pools: readonly P[], fn: (p: P) => Promise<T>): Promise<T> {
  let last: unknown;
  for (const p of pools) {
    try {
      return await fn(p);
    } catch (e) {
      last = e;
    }
  }
  throw new DictRetryError(`all servers failed: ${(last as Error | undefined)?.message ?? 'no hosts'}`);
}

function hostsOf(cfg: TableConfig, defaultPort: number): HostSpec[] {
  const list = cfg.list('hosts');
  return (list.length ? list : ['localhost']).map((h) => parseHost(h, defaultPort));
}

export async function pgsqlBackend(cfg: TableConfig): Promise<SqlBackend> {
  const pg = (await import('pg')).default;
  const timeout = cfg.int('timeout', 10) * 1000;
  const pools = hostsOf(cfg, 5432).map(
    (h) =>
      new pg.Pool({
        host: h.socket ?? h.host,
        port: h.port,
        user: cfg.str('user') || undefined,
        password: cfg.str('password') || undefined,
        database: cfg.str('dbname'),
        max: 4,
        idleTimeoutMillis: 60_000,
        connectionTimeoutMillis: timeout,
        query_timeout: timeout,
        // The query template quotes with '...'; only '' needs escaping then.
        options: '-c standard_conforming_strings=on',
      }),
  );
  for (const p of pools) p.on('error', () => undefined); // idle-client errors are retried on next use
  return {
    escape: doubleQuotes,
    query: (text) =>
      failover(pools, async (p) => {
        const r = await p.query<unknown[]>({ text, rowMode: 'array' });
        return r.rows.map((row) => row.map(columnText));
      }),
    close: async () => {
      await Promise.all(pools.map((p) => p.end()));
    },
  };
}

export async function mysqlBackend(cfg: TableConfig): Promise<SqlBackend> {
  const mysql = (await import('mysql2/promise')).default;
  const timeout = cfg.int('timeout', 10) * 1000;
  const pools = hostsOf(cfg, 3306).map((h) =>
    mysql.createPool({
      host: h.host,
      port: h.port,
      socketPath: h.socket,
      user: cfg.str('user') || undefined,
      password: cfg.str('password') || undefined,
      database: cfg.str('dbname'),
      connectionLimit: 4,
      connectTimeout: timeout,
      rowsAsArray: true,
    }),
  );
  return {
    escape: (s) => mysql.escape(s).slice(1, -1),
    query: (text) =>
      failover(pools, async (p) => {
        const [rows] = await p.query({ sql: text, timeout, rowsAsArray: true });
        if (!Array.isArray(rows)) return [];
        return (rows as unknown[][]).map((row) => row.map(columnText));
      }),
    close: async () => {
      await Promise.all(pools.map((p) => p.end()));
    },
  };
}

export async function sqliteBackend(cfg: TableConfig): Promise<SqlBackend> {
  const Database = (await import('better-sqlite3')).default;
  const dbname = cfg.str('dbname');
  if (!dbname) throw new TableSyntaxError(`${cfg.file}: missing "dbname"`);
  const db = new Database(dbname, { readonly: true, fileMustExist: true });
  return {
    escape: doubleQuotes,
    query: (text) => {
      const rows = db.prepare(text).raw(true).all() as unknown[][];
      return Promise.resolve(rows.map((row) => row.map(columnText)));
    },
    close: () => {
      db.close();
      return Promise.resolve();
    },
  };
}
