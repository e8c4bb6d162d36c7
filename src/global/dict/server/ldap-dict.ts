// ldap_table(5) through the ldapts client: `server_host` (hosts or LDAP URLs,
// tried in order), `search_base`, `query_filter`, `result_attribute`,
// `result_format`, `scope`, `domain`, `size_limit`, `expansion_limit`,
// `timeout`; DN recursion through `special_result_attribute` with
// `leaf_result_attribute`, `terminal_result_attribute` and `recursion_limit`
// (ldap-results.ts); `start_tls`, ldaps:// and the `tls_*` settings; `bind`
// = yes/simple, no/none, or sasl (PLAIN and EXTERNAL, the single-step
// mechanisms ldapts can send). Key text inserted into a filter is escaped per
// RFC 4515 so a key cannot change the filter's structure.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { DictRetryError, type Dict } from '../dict-api.js';
import { TableSyntaxError } from '../table-source.js';
import type { TableConfig } from './config-file.js';
import { domainAllowed, expandTemplate, keyParts, Suppressed } from './key-template.js';
import { collectResults, resultAttributes } from './ldap-results.js';

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

/** tls_* settings as Node TLS options; tls_require_cert = no (the default) accepts any certificate. */
function tlsOptions(cfg: TableConfig): ConnectionOptions {
  const read = (name: string): Buffer | undefined => {
    const f = cfg.str(name);
    if (!f) return undefined;
    try {
      return readFileSync(f);
    } catch (e) {
      throw new TableSyntaxError(`${cfg.file}: ${name} ${f}: ${(e as Error).message}`);
    }
  };
  const opts: ConnectionOptions = { rejectUnauthorized: cfg.bool('tls_require_cert', false) };
  const ca = read('tls_ca_cert_file');
  const cert = read('tls_cert');
  const key = read('tls_key');
  if (ca) opts.ca = ca;
  if (cert) opts.cert = cert;
  if (key) opts.key = key;
  const ciphers = cfg.str('tls_cipher_suite');
  if (ciphers) opts.ciphers = ciphers;
  return opts;
}

type BindMode = { kind: 'none' } | { kind: 'simple' } | { kind: 'sasl'; mechanism: 'PLAIN' | 'EXTERNAL' };

function bindMode(cfg: TableConfig): BindMode {
  const b = cfg.str('bind', 'yes').toLowerCase();
  if (b === 'no' || b === 'none' || b === 'false') return { kind: 'none' };
  if (b === 'yes' || b === 'simple' || b === 'true') return { kind: 'simple' };
  if (b !== 'sasl') throw new TableSyntaxError(`${cfg.file}: unsupported value "${b}" for "bind"`);
  const mechs = cfg.list('sasl_mechs').map((m) => m.toUpperCase());
  const usable = mechs.find((m): m is 'PLAIN' | 'EXTERNAL' => m === 'PLAIN' || m === 'EXTERNAL');
  if (!usable) {
    throw new TableSyntaxError(
      `${cfg.file}: sasl_mechs "${mechs.join(' ')}": only PLAIN and EXTERNAL are supported by this LDAP client`,
    );
  }
  return { kind: 'sasl', mechanism: usable };
}

export async function ldapDict(
  spec: string,
  cfg: TableConfig,
  fold: boolean,
  warn: (text: string) => void = () => undefined,
): Promise<Dict> {
  const { Client } = await import('ldapts');
  const base = cfg.str('search_base');
  if (!base) throw new TableSyntaxError(`${cfg.file}: missing "search_base"`);
  const filterTemplate = cfg.str('query_filter', '(mailacceptinggeneralid=%s)');
  const kinds = resultAttributes(cfg);
  const resultFormat = cfg.str('result_format', '%s');
  const scopeText = cfg.str('scope', 'sub');
  const scope = scopeText === 'sub' || scopeText === 'base' || scopeText === 'one' ? scopeText : undefined;
  if (!scope) throw new TableSyntaxError(`${cfg.file}: bad scope: ${scopeText}`);
  const bindDn = cfg.str('bind_dn');
  const bind = bindMode(cfg);
  const startTls = cfg.bool('start_tls', false);
  const tls = tlsOptions(cfg);
  const recursionLimit = cfg.int('recursion_limit', 1000);
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
      const c = new Client({
        url,
        timeout,
        connectTimeout: timeout,
        // ldapts speaks TLS from the start whenever tlsOptions are given.
        ...(url.toLowerCase().startsWith('ldaps:') ? { tlsOptions: tls } : {}),
      });
      try {
        // The certificate is checked against the host named in the URL.
        if (startTls && !url.toLowerCase().startsWith('ldaps:')) {
          await c.startTLS({ ...tls, host: new URL(url).hostname.replace(/^\[|\]$/g, '') });
        }
        if (bind.kind === 'simple' && bindDn !== '') await c.bind(bindDn, cfg.str('bind_pw'));
        if (bind.kind === 'sasl') {
          // PLAIN (RFC 4616): authzid NUL authcid NUL password; EXTERNAL: the authzid alone.
          const authz = cfg.str('sasl_authz_id');
          const creds = bind.mechanism === 'PLAIN' ? `${authz}\0${bindDn}\0${cfg.str('bind_pw')}` : authz;
          await c.bind(bind.mechanism, creds);
        }
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
      const upper = keyParts(key);
      const out: string[] = [];
      const add = (v: string): void => {
        try {
          out.push(expandTemplate(resultFormat, keyParts(v), (x) => x, upper));
        } catch (e) {
          if (!(e instanceof Suppressed)) throw e;
        }
        if (limit > 0 && out.length > limit) {
          throw new DictRetryError(`${spec}: ${cfg.file}: Expansion limit exceeded for key: '${key}'`);
        }
      };
      try {
        const c = await connected();
        const r = await c.search(searchBase, { scope, filter, attributes: kinds.all, sizeLimit });
        await collectResults(r.searchEntries, kinds, add, {
          limit: recursionLimit,
          fetch: async (dn) => {
            try {
              const sub = await c.search(dn, {
                scope: 'base',
                filter: '(objectclass=*)',
                attributes: kinds.all,
                sizeLimit,
              });
              return sub.searchEntries;
            } catch (e) {
              // A member DN that names no entry adds nothing.
              if ((e as Error).name === 'NoSuchObjectError') {
                warn(`${spec}: DN ${dn} not found, skipping`);
                return [];
              }
              throw e;
            }
          },
          onLimit: (attr, dn, depth) => {
            throw new DictRetryError(
              `${spec}: ${cfg.file}: Recursion limit exceeded at depth ${depth} for special attribute ${attr}=${dn}`,
            );
          },
        });
      } catch (e) {
        const name = (e as Error).name;
        if (name === 'NoSuchObjectError') return undefined;
        // Limits are properties of the data; anything else may be a broken
        // connection, rebuilt on the next lookup.
        if (e instanceof DictRetryError && /limit exceeded/.test(e.message)) throw e;
        const broken = client;
        client = undefined;
        await broken?.unbind().catch(() => undefined);
        if (e instanceof DictRetryError) throw e;
        throw new DictRetryError(`${spec}: ${(e as Error).message}`);
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
