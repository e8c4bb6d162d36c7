// Key-value servers as tables: memcache (memcache_table(5): `memcache`,
// `key_format`, `domain`, `data_size_limit`; the memcached text protocol
// spoken here directly) and redis (a Postern extension through ioredis:
// `hosts`, `password`, `database`, `key_format`, `timeout`). Lookups only;
// errors are temporary failures.
import { DictRetryError, type Dict } from '../dict-api.js';
import { Channel, parseEndpoint } from '../socket-client.js';
import type { TableConfig } from './config-file.js';
import { domainAllowed, expandTemplate, keyParts, Suppressed } from './key-template.js';

/** The server-side key for `key`, or undefined when the template or domain rules out a query. */
function serverKey(cfg: TableConfig, key: string): string | undefined {
  if (!domainAllowed(cfg.list('domain'), key)) return undefined;
  try {
    return expandTemplate(cfg.str('key_format', '%s'), keyParts(key), (s) => s);
  } catch (e) {
    if (e instanceof Suppressed) return undefined;
    throw e;
  }
}

const hasSpaceOrControl = (s: string): boolean => [...s].some((c) => c <= ' ' || c === '\u007f');

export function memcacheDict(spec: string, cfg: TableConfig, fold: boolean): Dict {
  const ch = new Channel(parseEndpoint(cfg.str('memcache', 'inet:localhost:11211'), spec), spec);
  const sizeLimit = cfg.int('data_size_limit', 10240);
  return {
    spec,
    async lookup(raw: string): Promise<string | undefined> {
      const key = serverKey(cfg, fold ? raw.toLowerCase() : raw);
      // memcached keys: at most 250 bytes, no whitespace or control characters.
      if (key === undefined || key === '' || Buffer.byteLength(key) > 250 || hasSpaceOrControl(key)) {
        return undefined;
      }
      return ch.request(Buffer.from(`get ${key}\r\n`), (buf) => {
        const text = buf.toString('latin1');
        if (text.startsWith('END\r\n')) return { value: undefined, used: 5 };
        const m = /^VALUE \S+ \d+ (\d+)\r\n/.exec(text);
        if (!m) {
          if (text.includes('\r\n')) throw new DictRetryError(`${spec}: unexpected reply: ${text.split('\r\n')[0]}`);
          return undefined;
        }
        const len = Number(m[1]);
        if (len > sizeLimit) throw new DictRetryError(`${spec}: value for "${key}" exceeds data_size_limit`);
        const start = Buffer.byteLength(m[0], 'latin1');
        const end = start + len + 2 + 5; // data CRLF "END" CRLF
        if (buf.length < end) return undefined;
        return { value: buf.subarray(start, start + len).toString('utf8'), used: end };
      });
    },
    close: () => Promise.resolve(ch.close()),
  };
}

export async function redisDict(spec: string, cfg: TableConfig, fold: boolean): Promise<Dict> {
  const { Redis } = await import('ioredis');
  const [first = '127.0.0.1:6379'] = cfg.list('hosts');
  const ep = parseEndpoint(first.includes(':') || first.startsWith('unix:') ? first : `${first}:6379`, spec);
  const timeout = cfg.int('timeout', 10) * 1000;
  const common = {
    password: cfg.str('password') || undefined,
    db: cfg.int('database', 0),
    connectTimeout: timeout,
    commandTimeout: timeout,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    lazyConnect: true,
  };
  const client =
    'path' in ep ? new Redis({ ...common, path: ep.path }) : new Redis({ ...common, host: ep.host, port: ep.port });
  client.on('error', () => undefined); // reported per lookup as DictRetryError
  return {
    spec,
    async lookup(raw: string): Promise<string | undefined> {
      const key = serverKey(cfg, fold ? raw.toLowerCase() : raw);
      if (key === undefined || key === '') return undefined;
      try {
        const v = await client.get(key);
        return v ?? undefined;
      } catch (e) {
        throw new DictRetryError(`${spec}: ${(e as Error).message}`);
      }
    },
    close: async () => {
      client.disconnect();
      await Promise.resolve();
    },
  };
}
