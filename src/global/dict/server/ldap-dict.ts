// ldap_table(5) through the ldapts client: `server_host` (hosts or LDAP URLs,
// tried in order), `search_base`, `query_filter`, `result_attribute`,
// `result_format`, `scope`, `bind`/`bind_dn`/`bind_pw`, `domain`,
// `size_limit`, `expansion_limit`, `timeout`. Key text inserted into a filter
// is escaped per RFC 4515 so a key cannot change the filter's structure.
// Not yet: special/leaf/terminal result attributes (DN recursion), SASL, TLS.
import { DictRetryError, type Dict } from '../dict-api.js';
import { TableSyntaxError } from '../table-source.js';
import type { TableConfig } from './config-file.js';
import { domainAllowed, expandTemplate, keyParts, Suppressed } from './key-template.js';

type LdapClient = import('ldapts').Client;

/** RFC 4515 section 3: `* ( ) \ NUL` become \XX. */
export function escapeFilter(s: string): string {
  return s.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** RFC 4514 section 2.4 escaping for text put into search_base. */
export function escapeDn(s: string): string {
  return s.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`).replace(/^[ #]|[ ]$/g, (c) => `\\${c}`);
}

function urlsOf(cfg: TableConfig): string[] {
  const port = cfg.int('server_port', 389);
  const hosts = cfg.list('server_host');
  return (hosts.length ? hosts : ['localhost']).map((h) =>
    /^ldaps?:\/\//i.test(h) ? h : `ldap://${h.includes(':') && !h.startsWith('[') ? h : `${h}:${port}`}`,
  );
}

function values(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.flatMap(values);
  if (Buffer.isBuffer(v)) return [v.toString('utf8')];
  return typeof v === 'string' ? [v] : [];
}

export async function ldapDict(spec: string, cfg: TableConfig, fold: boolean): Promise<Dict> {
  const { Client } = await import('ldapts');
  const base = cfg.str('search_base');
  if (!base) throw new TableSyntaxError(`${cfg.file}: missing "search_base"`);
  const filterTemplate = cfg.str('query_filter', '(mailacceptinggeneralid=%s)');
  const attrs = cfg.list('result_attribute');
  const attributes = attrs.length ? attrs : ['maildrop'];
  const resultFormat = cfg.str('result_format', '%s');
  const scopeText = cfg.str('scope', 'sub');
  const scope = scopeText === 'sub' || scopeText === 'base' || scopeText === 'one' ? scopeText : undefined;
  if (!scope) throw new TableSyntaxError(`${cfg.file}: bad scope: ${scopeText}`);
  const bindDn = cfg.str('bind_dn');
  const doBind = cfg.bool('bind', true) && bindDn !== '';
  const timeout = cfg.int('timeout', 10) * 1000;
  const sizeLimit = cfg.int('size_limit', 0);
  const limit = cfg.int('expansion_limit', 0);
  const domains = cfg.list('domain').map((d) => d.toLowerCase());
  const urls = urlsOf(cfg);
  let client: LdapClient | undefined;

  const connected = async (): Promise<LdapClient> => {
    if (client) return client;
    let last: unknown;
    for (const url of urls) {
      const c = new Client({ url, timeout, connectTimeout: timeout });
      try {
        if (doBind) await c.bind(bindDn, cfg.str('bind_pw'));
        client = c;
        return c;
      } catch (e) {
        last = e;
        await c.unbind().catch(() => undefined);
      }
    }
    throw new DictRetryError(
      `${spec}: cannot connect to ${urls.join(', ')}: ${(last as Error | undefined)?.message ?? ''}`,
    );
  };

  return {
    spec,
    async lookup(raw: string): Promise<string | undefined> {
      const key = fold ? raw.toLowerCase() : raw;
      if (key === '' || key.length > 1024 || !domainAllowed(domains, key)) return undefined;
      let filter: string;
      let searchBase: string;
      try {
        filter = expandTemplate(filterTemplate, keyParts(key), escapeFilter);
        searchBase = expandTemplate(base, keyParts(key), escapeDn);
      } catch (e) {
        if (e instanceof Suppressed) return undefined;
        throw e;
      }
      let entries: Record<string, unknown>[];
      try {
        const c = await connected();
        const r = await c.search(searchBase, { scope, filter, attributes, sizeLimit });
        entries = r.searchEntries;
      } catch (e) {
        const name = (e as Error).name;
        if (name === 'NoSuchObjectError') return undefined;
        // A broken connection is rebuilt on the next lookup.
        const c = client;
        client = undefined;
        await c?.unbind().catch(() => undefined);
        if (e instanceof DictRetryError) throw e;
        throw new DictRetryError(`${spec}: ${(e as Error).message}`);
      }
      const out: string[] = [];
      const upper = keyParts(key);
      for (const entry of entries) {
        for (const a of attributes) {
          for (const v of values(entry[a])) {
            try {
              out.push(expandTemplate(resultFormat, keyParts(v), (s) => s, upper));
            } catch (e) {
              if (!(e instanceof Suppressed)) throw e;
            }
            if (limit > 0 && out.length > limit) {
              throw new DictRetryError(`${spec}: ${cfg.file}: Expansion limit exceeded for key: '${key}'`);
            }
          }
        }
      }
      return out.length ? out.join(',') : undefined;
    },
    async close(): Promise<void> {
      const c = client;
      client = undefined;
      await c?.unbind().catch(() => undefined);
    },
  };
}
