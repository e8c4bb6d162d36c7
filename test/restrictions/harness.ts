// Test doubles for the policy: a Map-backed Dict (keys folded to lower case,
// as hash: tables do), a scripted DNS resolver, and session facts with
// defaults so each test states only what it is about.
import type { Dict } from '../../src/global/dict/dict-api.js';
import { DictRetryError } from '../../src/global/dict/dict-api.js';
import type { SessionFacts } from '../../src/daemons/smtpd/policy-api.js';
import type { DnsAnswer, DnsType, PolicyResolver } from '../../src/daemons/smtpd/restrictions/index.js';

export class MapDict implements Dict {
  readonly lookups: string[] = [];
  constructor(
    readonly spec: string,
    private readonly entries: Map<string, string> = new Map(),
    /** Keys whose lookup fails temporarily. */
    private readonly failing: ReadonlySet<string> = new Set(),
  ) {}
  set(key: string, value: string): this {
    this.entries.set(key.toLowerCase(), value);
    return this;
  }
  lookup(key: string): Promise<string | undefined> {
    this.lookups.push(key);
    if (this.failing.has(key.toLowerCase()))
      return Promise.reject(new DictRetryError(`${this.spec}: lookup of ${key} failed`));
    return Promise.resolve(this.entries.get(key.toLowerCase()));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Tables by spec; opening an unknown spec gives an empty table, as an empty file would. */
export class DictSet {
  readonly dicts = new Map<string, MapDict>();
  get(spec: string): MapDict {
    let d = this.dicts.get(spec);
    if (!d) {
      d = new MapDict(spec);
      this.dicts.set(spec, d);
    }
    return d;
  }
  opener = (spec: string): Promise<Dict> => Promise.resolve(this.get(spec));
}

export class FakeResolver implements PolicyResolver {
  readonly queries: string[] = [];
  private readonly records = new Map<string, DnsAnswer>();
  set(name: string, type: DnsType, answer: DnsAnswer | readonly string[]): this {
    const a: DnsAnswer = Array.isArray(answer)
      ? { status: 'ok', records: answer as readonly string[] }
      : (answer as DnsAnswer);
    this.records.set(`${name.toLowerCase()}/${type}`, a);
    return this;
  }
  query(name: string, type: DnsType): Promise<DnsAnswer> {
    this.queries.push(`${name} ${type}`);
    return Promise.resolve(this.records.get(`${name.toLowerCase()}/${type}`) ?? { status: 'notfound' });
  }
}

export function facts(over: Partial<SessionFacts> = {}): SessionFacts {
  return {
    clientAddr: '192.0.2.99',
    clientName: 'unknown',
    reverseClientName: 'unknown',
    clientPort: 40000,
    serverAddr: '192.0.2.1',
    serverPort: 25,
    esmtp: true,
    tls: false,
    recipientCount: 0,
    ...over,
  };
}
