// Postfix's domain match lists (mydestination, relay_domains,
// virtual_alias_domains, virtual_mailbox_domains): literal domains,
// `.parent` patterns, `!negation`, `/file/name` and `type:table` lookups.
// Whether `example.com` also matches its subdomains depends on
// parent_domain_matches_subdomains, as in postconf(5).
import { readFileSync } from 'node:fs';
import { splitList } from '../../global/params/config.js';
import type { Dict } from '../../global/dict/dict-api.js';

export type OpenDict = (spec: string) => Promise<Dict>;

type Pattern =
  | { readonly kind: 'name'; readonly name: string; readonly negate: boolean }
  | { readonly kind: 'table'; readonly spec: string; readonly negate: boolean };

const TABLE_SPEC = /^[a-z][a-z0-9_+-]*:\S+$/i;

export class DomainList {
  private readonly patterns: Pattern[] = [];
  private readonly dicts = new Map<string, Promise<Dict>>();

  constructor(
    /** The parameter the list came from, for messages and parent-matching policy. */
    readonly param: string,
    value: string,
    private readonly parentMatches: boolean,
    private readonly openDict: OpenDict,
  ) {
    for (const item of expandFiles(splitList(value), param)) {
      const negate = item.startsWith('!');
      const body = negate ? item.slice(1) : item;
      if (!body) continue;
      if (TABLE_SPEC.test(body) && !body.startsWith('[')) this.patterns.push({ kind: 'table', spec: body, negate });
      else this.patterns.push({ kind: 'name', name: body.toLowerCase(), negate });
    }
  }

  get isEmpty(): boolean {
    return this.patterns.length === 0;
  }

  /** True when the domain is listed; a table's DictRetryError propagates so the caller can defer. */
  async matches(domainIn: string): Promise<boolean> {
    const domain = domainIn.toLowerCase();
    for (const p of this.patterns) {
      const hit = p.kind === 'name' ? this.matchName(p.name, domain) : await this.matchTable(p.spec, domain);
      if (hit) return !p.negate;
    }
    return false;
  }

  private matchName(pattern: string, domain: string): boolean {
    if (pattern === domain) return true;
    if (pattern.startsWith('.')) return domain.endsWith(pattern);
    return this.parentMatches && domain.endsWith(`.${pattern}`);
  }

  private async matchTable(spec: string, domain: string): Promise<boolean> {
    let d = this.dicts.get(spec);
    if (!d) {
      d = this.openDict(spec);
      this.dicts.set(spec, d);
    }
    const dict = await d;
    if ((await dict.lookup(domain)) !== undefined) return true;
    // Parent domains: `sub.example.com` → `example.com` (parent style) or `.example.com`.
    for (let i = domain.indexOf('.'); i >= 0; i = domain.indexOf('.', i + 1)) {
      const key = this.parentMatches ? domain.slice(i + 1) : domain.slice(i);
      if (key && (await dict.lookup(key)) !== undefined) return true;
    }
    return false;
  }
}

/** `/path/name` items stand for the whitespace/comma separated patterns in that file. */
function expandFiles(items: string[], param: string): string[] {
  const out: string[] = [];
  for (const item of items) {
    if (!item.startsWith('/')) {
      out.push(item);
      continue;
    }
    let text: string;
    try {
      text = readFileSync(item, 'utf8');
    } catch (e) {
      throw new Error(`${param}: open ${item}: ${(e as Error).message}`);
    }
    for (const line of text.split('\n')) {
      const t = line.replace(/#.*/, '').trim();
      if (t) out.push(...splitList(t));
    }
  }
  return out;
}

/** A list of tables opened together on first use (sender_dependent_*_maps). */
export class LazyDicts {
  private opened: Promise<Dict[]> | undefined;
  constructor(
    readonly specs: readonly string[],
    private readonly openDict: OpenDict,
  ) {}
  get(): Promise<Dict[]> {
    this.opened ??= Promise.all(this.specs.map((s) => this.openDict(s)));
    return this.opened;
  }
}

/** Whether `param` is named in parent_domain_matches_subdomains. */
export function parentStyle(parentList: readonly string[], param: string): boolean {
  return parentList.includes(param);
}
