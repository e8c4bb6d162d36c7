// Configuration files of database tables (pgsql_table(5), mysql_table(5),
// sqlite_table(5), ldap_table(5), memcache_table(5)): `name = value` lines in
// main.cf syntax. Problems are reported with file and line.
import { readFile } from 'node:fs/promises';
import { parseMainCf } from '../../params/main-cf.js';
import { TableSyntaxError } from '../table-source.js';

export class TableConfig {
  constructor(
    readonly file: string,
    private readonly values: ReadonlyMap<string, string>,
  ) {}

  static async load(file: string): Promise<TableConfig> {
    const parsed = parseMainCf(await readFile(file, 'utf8'));
    const p = parsed.problems[0];
    if (p) throw new TableSyntaxError(`${file}, line ${p.line}: ${p.message}`);
    return new TableConfig(file, new Map(parsed.entries.map((e) => [e.name, e.value])));
  }

  str(name: string, def = ''): string {
    return this.values.get(name) ?? def;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  int(name: string, def: number): number {
    const v = this.values.get(name);
    if (v === undefined || v === '') return def;
    if (!/^\d+$/.test(v)) throw new TableSyntaxError(`${this.file}: bad numerical value for ${name}: ${v}`);
    return Number(v);
  }

  bool(name: string, def: boolean): boolean {
    const v = this.values.get(name)?.toLowerCase();
    if (v === undefined || v === '') return def;
    if (v === 'yes' || v === 'true') return true;
    if (v === 'no' || v === 'false') return false;
    throw new TableSyntaxError(`${this.file}: bad boolean value for ${name}: ${v}`);
  }

  /** Comma/whitespace separated list. */
  list(name: string): string[] {
    return this.str(name)
      .split(/[\s,]+/)
      .filter((s) => s !== '');
  }
}
