// transport(5) lookups for trivial-rewrite(8): search transport_maps for
// `user+ext@domain`, `user@domain`, `domain`, parent domains and `*`, and
// merge a `transport:nexthop` result with what the address class chose.
import type { Dict } from '../../global/dict/dict-api.js';
import { stripExtension } from './address.js';
import type { OpenDict } from './domain-list.js';

export interface TransportEntry {
  /** Empty: keep the class's transport. */
  readonly transport: string;
  /** Empty: keep (when transport is empty) or reset to the recipient domain. */
  readonly nexthop: string;
}

/** `smtp:[mx]:25` → {smtp, [mx]:25}; `error:5.1.1 text` keeps every colon after the first. */
export function parseTransportSpec(value: string): TransportEntry {
  const v = value.trim();
  const colon = v.indexOf(':');
  if (colon < 0) return { transport: v, nexthop: '' };
  return { transport: v.slice(0, colon), nexthop: v.slice(colon + 1) };
}

export class TransportTable {
  private dicts: Promise<Dict[]> | undefined;

  constructor(
    private readonly specs: readonly string[],
    private readonly delimiters: string,
    private readonly parentMatches: boolean,
    private readonly openDict: OpenDict,
  ) {}

  get isEmpty(): boolean {
    return this.specs.length === 0;
  }

  /** The first matching entry, or undefined; DictRetryError propagates. */
  async find(local: string, domain: string): Promise<TransportEntry | undefined> {
    if (this.specs.length === 0) return undefined;
    this.dicts ??= Promise.all(this.specs.map((s) => this.openDict(s)));
    const dicts = await this.dicts;
    const lcLocal = local.toLowerCase();
    const lcDomain = domain.toLowerCase();
    const keys: string[] = [];
    if (lcDomain) {
      keys.push(`${lcLocal}@${lcDomain}`);
      const bare = stripExtension(lcLocal, this.delimiters);
      if (bare !== undefined) keys.push(`${bare}@${lcDomain}`);
      keys.push(lcDomain);
      for (let i = lcDomain.indexOf('.'); i >= 0; i = lcDomain.indexOf('.', i + 1)) {
        keys.push(this.parentMatches ? lcDomain.slice(i + 1) : lcDomain.slice(i));
      }
    }
    keys.push('*');
    // Postfix searches each key across all tables before moving to the next, less specific key.
    for (const key of keys) {
      for (const d of dicts) {
        const v = await d.lookup(key);
        if (v !== undefined) return parseTransportSpec(v);
      }
    }
    return undefined;
  }
}
