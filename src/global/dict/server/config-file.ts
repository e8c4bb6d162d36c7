// Configuration of database tables (pgsql_table(5), mysql_table(5),
// sqlite_table(5), ldap_table(5), memcache_table(5)): `name = value` lines in
// main.cf syntax in their own file, or, as Postfix's cfg_parser.c allows for
// a table name that is not a path (`ldap:ldapsource`), main.cf parameters
// named `ldapsource_server_host` and so on, $-expanded like any parameter.
// Problems are reported with file and line.
import { readFile } from 'node:fs/promises';
import { configDirectory, loadConfig } from '../../params/config.js';
import { parseMainCf } from '../../params/main-cf.js';
import type { ParamReader } from '../../params/types.js';
import { TableSyntaxError } from '../table-source.js';

export class TableConfig {
  private readonly value: (name: string) => string | undefined;

  constructor(
    /** The file, or `main.cf: prefix_*` for the main.cf form, for messages. */
    readonly file: string,
    values: ReadonlyMap<string, string> | ((name: string) => string | undefined),
  ) {
    this.value = typeof values === 'function' ? values : (n) => values.get(n);
  }

  static async load(file: string): Promise<TableConfig> {
    const parsed = parseMainCf(await readFile(file, 'utf8'));
    const p = parsed.problems[0];
    if (p) throw new TableSyntaxError(`${file}, line ${p.line}: ${p.message}`);
    return new TableConfig(file, new Map(parsed.entries.map((e) => [e.name, e.value])));
  }

  /** `prefix_name` parameters from main.cf (the caller's configuration, else $MAIL_CONFIG's). */
  static fromMainCf(prefix: string, config: ParamReader | undefined): TableConfig {
    let reader = config;
    if (!reader) {
      try {
        reader = loadConfig(configDirectory());
      } catch {
        reader = undefined;
      }
    }
    const r = reader;
    return new TableConfig(`main.cf: ${prefix}_*`, (n) =>
      r?.isSet(`${prefix}_${n}`) ? r.get(`${prefix}_${n}`) : undefined,
    );
  }

  /** Postfix's rule: a name starting with `/` or `.` is a file, anything else a main.cf prefix. */
  static open(name: string, config: ParamReader | undefined): Promise<TableConfig> {
    return name.startsWith('/') || name.startsWith('.')
      ? TableConfig.load(name)
      : Promise.resolve(TableConfig.fromMainCf(name, config));
  }

  str(name: string, def = ''): string {
    return this.value(name) ?? def;
  }

  has(name: string): boolean {
    return this.value(name) !== undefined;
  }

  int(name: string, def: number): number {
    const v = this.value(name);
    if (v === undefined || v === '') return def;
    if (!/^\d+$/.test(v)) throw new TableSyntaxError(`${this.file}: bad numerical value for ${name}: ${v}`);
    return Number(v);
  }

  bool(name: string, def: boolean): boolean {
    const v = this.value(name)?.toLowerCase();
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
