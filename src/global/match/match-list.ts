// Postfix match lists (postconf(5) "mynetworks", "mydestination", "relay_domains",
// "debug_peer_list", ...): comma/space separated patterns tried in order; the
// first pattern that matches decides, `!pattern` turns that into "no match",
// `/file/name` is replaced by the patterns in that file, `type:table` is a
// lookup. Host names match exactly, or with their subdomains when the
// parameter is listed in `parent_domain_matches_subdomains` (always for
// `.domain` patterns); addresses match host addresses or CIDR networks.
import { readFile } from 'node:fs/promises';
import type { Dict } from '../dict/dict-api.js';
import { domainKeys } from '../addr/lookup-keys.js';
import { splitList } from '../params/config.js';
import { networkContains, parseIp, parseNetwork, type IpAddress, type IpNetwork } from './ip.js';

/** How features open `type:name` tables; provided by the dict layer (openDict). */
export type DictOpener = (spec: string) => Promise<Dict>;

export class MatchListError extends Error {
  override name = 'MatchListError';
}

type Pattern =
  | { readonly kind: 'network'; readonly negate: boolean; readonly net: IpNetwork }
  | { readonly kind: 'name'; readonly negate: boolean; readonly name: string }
  | { readonly kind: 'table'; readonly negate: boolean; readonly dict: Dict };

export interface MatchListOptions {
  /** The parameter the list came from, for `parent_domain_matches_subdomains` and messages. */
  readonly paramName: string;
  /** Whether `paramName` is listed in `parent_domain_matches_subdomains`. */
  readonly parentMatchesSubdomains: boolean;
  /** Needed only when the list has `type:table` entries. */
  readonly openDict?: DictOpener;
  /** Reads `/file/name` entries; defaults to the file system. */
  readonly readTextFile?: (path: string) => Promise<string>;
}

/** Limits against a list that includes itself through files. */
const MAX_FILE_DEPTH = 8;
const MAX_PATTERNS = 100_000;

/**
 * Split on commas and white space, as Postfix splits list parameters; text in
 * braces stays one item, so `inline:{ a=b, c=d }` is one table.
 */
export function splitMatchList(text: string): string[] {
  return splitList(text);
}

/** `parent_domain_matches_subdomains` as a predicate on a feature name. */
export function parentDomainMatcher(value: string): (feature: string) => boolean {
  const names = new Set(splitMatchList(value));
  return (feature) => names.has(feature);
}

export class MatchList {
  /**
   * Without `type:table` entries the answer depends on the name and address
   * alone, and the same client is asked about several times per message
   * (mynetworks at each restriction stage, mydestination per recipient): the
   * last question and its answer are kept.
   */
  private readonly pure: boolean;
  private lastName: string | undefined;
  private lastAddr: string | undefined;
  private lastAnswer: boolean | undefined;
  private remembered = false;

  private constructor(
    private readonly patterns: readonly Pattern[],
    private readonly opts: MatchListOptions,
  ) {
    this.pure = patterns.every((p) => p.kind !== 'table');
  }

  /** Parse `value`; `/file` entries are read and `type:table` entries opened now, as at Postfix start-up. */
  static async create(value: string, opts: MatchListOptions): Promise<MatchList> {
    const patterns: Pattern[] = [];
    await addItems(splitMatchList(value), false, patterns, opts, 0);
    return new MatchList(patterns, opts);
  }

  get isEmpty(): boolean {
    return this.patterns.length === 0;
  }

  /** Match a domain or host name (mydestination, relay_domains). */
  async matchHost(name: string): Promise<boolean> {
    return (await this.decide(name, undefined)) ?? false;
  }

  /** Match a client address (mynetworks). */
  async matchAddr(addr: string): Promise<boolean> {
    return (await this.decide(undefined, addr)) ?? false;
  }

  /** Match a client by name or address (debug_peer_list style). */
  async matchNameAddr(name: string, addr: string): Promise<boolean> {
    return (await this.decide(name, addr)) ?? false;
  }

  private decide(
    name: string | undefined,
    addr: string | undefined,
  ): Promise<boolean | undefined> | boolean | undefined {
    if (!this.pure) return this.decideWithTables(name, addr);
    if (this.remembered && name === this.lastName && addr === this.lastAddr) return this.lastAnswer;
    const answer = this.decidePure(name, addr);
    this.lastName = name;
    this.lastAddr = addr;
    this.lastAnswer = answer;
    this.remembered = true;
    return answer;
  }

  private decidePure(name: string | undefined, addr: string | undefined): boolean | undefined {
    const host = name === undefined ? undefined : normalHost(name);
    const ip = addr === undefined ? undefined : parseIp(addr);
    for (const p of this.patterns) {
      if (p.kind !== 'table' && this.staticHit(p, host, ip)) return !p.negate;
    }
    return undefined;
  }

  /** Whether a network or name pattern matches: no lookup, so both decide paths share it. */
  private staticHit(
    p: Exclude<Pattern, { kind: 'table' }>,
    host: string | undefined,
    ip: IpAddress | undefined,
  ): boolean {
    if (p.kind === 'network') return ip !== undefined && networkContains(p.net, ip);
    return host !== undefined && hostMatches(p.name, host, this.opts.parentMatchesSubdomains);
  }

  private async decideWithTables(name: string | undefined, addr: string | undefined): Promise<boolean | undefined> {
    const host = name === undefined ? undefined : normalHost(name);
    const ip = addr === undefined ? undefined : parseIp(addr);
    for (const p of this.patterns) {
      const hit =
        p.kind === 'table'
          ? await tableMatches(p.dict, host, addr, this.opts.parentMatchesSubdomains)
          : this.staticHit(p, host, ip);
      if (hit) return !p.negate;
    }
    return undefined;
  }
}

/** Lower case without a trailing dot (most names have neither: no regexp for those). */
function normalHost(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function hostMatches(pattern: string, host: string, parent: boolean): boolean {
  if (pattern.startsWith('.')) return host.endsWith(pattern);
  if (host === pattern) return true;
  return parent && host.endsWith(`.${pattern}`);
}

async function tableMatches(dict: Dict, host: string | undefined, addr: string | undefined, parent: boolean) {
  if (host !== undefined && host !== '') {
    for (const key of domainKeys(host, { parentMatchesSubdomains: parent })) {
      if ((await dict.lookup(key)) !== undefined) return true;
    }
  }
  if (addr !== undefined && (await dict.lookup(addr)) !== undefined) return true;
  return false;
}

async function addItems(
  items: readonly string[],
  negated: boolean,
  out: Pattern[],
  opts: MatchListOptions,
  depth: number,
): Promise<void> {
  for (const raw of items) {
    if (out.length >= MAX_PATTERNS) throw new MatchListError(`${opts.paramName}: too many patterns`);
    let item = raw;
    let negate = negated;
    while (item.startsWith('!')) {
      negate = !negate;
      item = item.slice(1);
    }
    if (item === '') throw new MatchListError(`${opts.paramName}: empty pattern after "!"`);
    if (item.startsWith('/')) {
      if (depth >= MAX_FILE_DEPTH) throw new MatchListError(`${opts.paramName}: files nested too deeply at ${item}`);
      const read = opts.readTextFile ?? ((p: string) => readFile(p, 'utf8'));
      let text: string;
      try {
        text = await read(item);
      } catch (e) {
        throw new MatchListError(`${opts.paramName}: open ${item}: ${(e as Error).message}`);
      }
      const fileItems = text.split('\n').flatMap((line) => splitMatchList(line.replace(/#.*/, '')));
      await addItems(fileItems, negate, out, opts, depth + 1);
      continue;
    }
    // `type:table`; IPv6 addresses also contain colons, so rule those out first.
    const looksLikeIp = parseIp(item.replace(/\/\d+$/, '')) !== undefined;
    if (/^[a-z][a-z0-9_-]*:/i.test(item) && !looksLikeIp && !item.startsWith('[')) {
      if (!opts.openDict) throw new MatchListError(`${opts.paramName}: table ${item} not supported here`);
      out.push({ kind: 'table', negate, dict: await opts.openDict(item) });
      continue;
    }
    let net: IpNetwork | undefined;
    try {
      net = parseNetwork(item);
    } catch (e) {
      throw new MatchListError(`${opts.paramName}: ${(e as Error).message}`);
    }
    if (net) out.push({ kind: 'network', negate, net });
    else out.push({ kind: 'name', negate, name: item.toLowerCase().replace(/\.$/, '') });
  }
}
