// The common half of the SQL tables (pgsql, mysql, sqlite): the query
// template, `domain` restriction, `result_format`, `expansion_limit` and the
// comma-joined answer from every row and column. A backend only runs a query
// text and returns rows of column values. Postfix's dict_pgsql.c /
// dict_mysql.c / dict_sqlite.c share this behaviour.
import { DictRetryError, type Dict } from '../dict-api.js';
import { TableSyntaxError } from '../table-source.js';
import type { TableConfig } from './config-file.js';
import { domainAllowed, expandTemplate, keyParts, Suppressed } from './key-template.js';

/** Longest key sent to a server; longer keys are not found. */
export const MAX_SQL_KEY = 1024;

export interface SqlBackend {
  /** Rows of column values (NULLs as null). Throws on failure. */
  query(text: string): Promise<(string | null)[][]>;
  /** Quote text for inclusion inside a '...' literal. */
  escape(text: string): string;
  close(): Promise<void>;
}

/** The `query` text, built from legacy select_field/table/where_field settings when absent. */
export function queryTemplate(cfg: TableConfig): string {
  if (cfg.has('query')) return cfg.str('query');
  const select = cfg.str('select_field');
  const table = cfg.str('table');
  const where = cfg.str('where_field');
  if (!select || !table || !where) {
    throw new TableSyntaxError(`${cfg.file}: missing "query" (or select_field, table and where_field)`);
  }
  const extra = cfg.str('additional_conditions');
  return `SELECT ${select} FROM ${table} WHERE ${where} = '%s'${extra ? ` ${extra}` : ''}`;
}

export function sqlDict(spec: string, cfg: TableConfig, backend: SqlBackend, fold: boolean): Dict {
  const template = queryTemplate(cfg);
  const resultFormat = cfg.str('result_format', '%s');
  const limit = cfg.int('expansion_limit', 0);
  const domains = cfg.list('domain').map((d) => d.toLowerCase());
  return {
    spec,
    async lookup(rawKey: string): Promise<string | undefined> {
      const key = fold ? rawKey.toLowerCase() : rawKey;
      if (key === '' || key.length > MAX_SQL_KEY || key.includes('\0')) return undefined;
      if (!domainAllowed(domains, key)) return undefined;
      let text: string;
      try {
        text = expandTemplate(template, keyParts(key), (s) => backend.escape(s));
      } catch (e) {
        if (e instanceof Suppressed) return undefined;
        throw e;
      }
      let rows: (string | null)[][];
      try {
        rows = await backend.query(text);
      } catch (e) {
        if (e instanceof DictRetryError) throw e;
        throw new DictRetryError(`${spec}: ${(e as Error).message}`);
      }
      const results: string[] = [];
      const upper = keyParts(key);
      for (const row of rows) {
        for (const v of row) {
          if (v === null || v === '') continue;
          try {
            results.push(expandTemplate(resultFormat, keyParts(v), (s) => s, upper));
          } catch (e) {
            if (!(e instanceof Suppressed)) throw e;
          }
          if (limit > 0 && results.length > limit) {
            throw new DictRetryError(`${spec}: ${cfg.file}: Expansion limit exceeded for key: '${key}'`);
          }
        }
      }
      return results.length ? results.join(',') : undefined;
    },
    close: () => backend.close(),
  };
}
