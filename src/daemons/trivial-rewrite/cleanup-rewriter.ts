// The envelope address rewriting cleanup(8) asks for (its CleanupAddressRewriter
// seam): canonical(5) mapping (sender_/recipient_canonical_maps, then
// canonical_maps), masquerade_domains, and virtual(5) alias expansion with
// virtual_alias_recursion_limit / virtual_alias_expansion_limit. Table lookups
// follow the key order of canonical(5)/virtual(5): user@domain, user (local
// domains only), @domain, with the address extension retried stripped.
import { splitList } from '../../global/params/config.js';
import type { Dict } from '../../global/dict/dict-api.js';
import type { ParamReader } from '../../global/params/types.js';
import { joinAddress, splitAddress, stripExtension } from './address.js';
import { LazyDicts, type OpenDict } from './domain-list.js';
import type { Rewriter } from './trivial-rewrite.js';

export interface CleanupRewriteContext {
  readonly queueId: string;
  readonly origin: string;
  /** receive_override_options=no_address_mappings from the mail's source. */
  readonly noAddressMappings?: boolean;
}

/** Bounds on canonical mapping rounds (a→b→c...). */
const CANONICAL_ROUNDS = 10;

export class CleanupRewriter {
  private readonly senderCanon: LazyDicts;
  private readonly rcptCanon: LazyDicts;
  private readonly commonCanon: LazyDicts;
  private readonly virtual: LazyDicts;
  private readonly senderBccMaps: LazyDicts;
  private readonly rcptBccMaps: LazyDicts;
  private readonly classes: { canon: Set<string>; sender: Set<string>; rcpt: Set<string>; masq: Set<string> };
  private readonly masqDomains: string[];
  private readonly masqExceptions: Set<string>;
  private readonly propagate: Set<string>;
  private readonly delimiters: string;
  private readonly myorigin: string;
  private readonly recursionLimit: number;
  private readonly expansionLimit: number;
  private readonly lengthLimit: number;

  constructor(
    config: ParamReader,
    openDict: OpenDict,
    private readonly rewriter: Rewriter,
  ) {
    const set = (name: string): Set<string> => new Set(config.list(name).map((s) => s.toLowerCase()));
    this.senderCanon = new LazyDicts(config.list('sender_canonical_maps'), openDict);
    this.rcptCanon = new LazyDicts(config.list('recipient_canonical_maps'), openDict);
    this.commonCanon = new LazyDicts(config.list('canonical_maps'), openDict);
    this.virtual = new LazyDicts(config.list('virtual_alias_maps'), openDict);
    this.senderBccMaps = new LazyDicts(config.list('sender_bcc_maps'), openDict);
    this.rcptBccMaps = new LazyDicts(config.list('recipient_bcc_maps'), openDict);
    this.classes = {
      canon: set('canonical_classes'),
      sender: set('sender_canonical_classes'),
      rcpt: set('recipient_canonical_classes'),
      masq: set('masquerade_classes'),
    };
    this.masqDomains = config.list('masquerade_domains').map((d) => d.toLowerCase());
    this.masqExceptions = set('masquerade_exceptions');
    this.propagate = set('propagate_unmatched_extensions');
    this.delimiters = config.get('recipient_delimiter');
    this.myorigin = config.get('myorigin').toLowerCase();
    this.recursionLimit = config.int('virtual_alias_recursion_limit');
    this.expansionLimit = config.int('virtual_alias_expansion_limit');
    this.lengthLimit = config.int('virtual_alias_address_length_limit');
  }

  // Empty map lists are skipped before the call: each awaited canonical() is
  // a promise and a microtask per address, and most configurations have none.
  async sender(address: string, ctx?: CleanupRewriteContext): Promise<string> {
    let a = this.rewriter.rewrite(address);
    if (a === '' || ctx?.noAddressMappings) return a;
    if (this.senderCanon.specs.length > 0 && this.classes.sender.has('envelope_sender')) {
      a = await this.canonical(a, this.senderCanon);
    }
    if (this.commonCanon.specs.length > 0 && this.classes.canon.has('envelope_sender')) {
      a = await this.canonical(a, this.commonCanon);
    }
    if (this.classes.masq.has('envelope_sender')) a = this.masquerade(a);
    return a;
  }

  /** The recipients one envelope recipient becomes; DictRetryError propagates so cleanup can defer. */
  async recipient(address: string, ctx?: CleanupRewriteContext): Promise<string[]> {
    let a = this.rewriter.rewrite(address);
    if (ctx?.noAddressMappings) return [a];
    a = await this.canonicalRecipient(a);
    if (this.virtual.specs.length === 0) return [a];
    const out: string[] = [];
    await this.expand(a, 0, out, new Set());
    return out;
  }

  private async canonicalRecipient(address: string): Promise<string> {
    let a = address;
    if (this.rcptCanon.specs.length > 0 && this.classes.rcpt.has('envelope_recipient')) {
      a = await this.canonical(a, this.rcptCanon);
    }
    if (this.commonCanon.specs.length > 0 && this.classes.canon.has('envelope_recipient')) {
      a = await this.canonical(a, this.commonCanon);
    }
    if (this.classes.masq.has('envelope_recipient')) a = this.masquerade(a);
    return a;
  }

  /**
   * An address in a message header: trivial-rewrite in `context` (local
   * submission or remote client), then canonical maps and masquerading as
   * their header_sender / header_recipient classes say.
   */
  async header(
    address: string,
    kind: 'sender' | 'recipient',
    context: 'local' | 'remote',
    noAddressMappings = false,
  ): Promise<string> {
    let a = this.rewriter.rewrite(address, context);
    if (a === '' || noAddressMappings) return a;
    const cls = kind === 'sender' ? 'header_sender' : 'header_recipient';
    const ownClasses = kind === 'sender' ? this.classes.sender : this.classes.rcpt;
    const ownMaps = kind === 'sender' ? this.senderCanon : this.rcptCanon;
    if (ownMaps.specs.length > 0 && ownClasses.has(cls)) a = await this.canonical(a, ownMaps);
    if (this.commonCanon.specs.length > 0 && this.classes.canon.has(cls)) a = await this.canonical(a, this.commonCanon);
    if (this.classes.masq.has(cls)) a = this.masquerade(a);
    return a;
  }

  /** sender_bcc_maps: the BCC address for an envelope sender as stored (after canonical mapping). */
  async senderBcc(sender: string): Promise<string | undefined> {
    if (sender === '' || this.senderBccMaps.specs.length === 0) return undefined;
    return this.bccOf(this.senderBccMaps, sender);
  }

  /** recipient_bcc_maps: keyed on the recipient after canonical mapping and masquerading, before virtual aliases. */
  async recipientBcc(recipient: string): Promise<string | undefined> {
    if (this.rcptBccMaps.specs.length === 0) return undefined;
    return this.bccOf(this.rcptBccMaps, await this.canonicalRecipient(this.rewriter.rewrite(recipient)));
  }

  /** One BCC address per lookup, as Postfix supports (the first of a list). */
  private async bccOf(tables: LazyDicts, address: string): Promise<string | undefined> {
    const hit = await this.find(tables, address);
    const first = hit ? splitList(hit.value)[0] : undefined;
    return first ? this.rewriter.rewrite(first) : undefined;
  }

  /** Lookup in canonical(5)/virtual(5) key order; the result and the extension that was stripped. */
  private async find(tables: LazyDicts, address: string): Promise<{ value: string; ext: string } | undefined> {
    if (tables.specs.length === 0) return undefined;
    const dicts: Dict[] = await tables.get();
    const { local, domain } = splitAddress(address.toLowerCase());
    const bare = stripExtension(local, this.delimiters);
    const ext = bare !== undefined ? local.slice(bare.length) : '';
    const keys: [string, string][] = [];
    const localDomain =
      domain !== undefined && (domain === this.myorigin || (await this.rewriter.isLocalDomain(domain)));
    if (domain !== undefined) {
      keys.push([`${local}@${domain}`, '']);
      if (bare !== undefined) keys.push([`${bare}@${domain}`, ext]);
    }
    if (domain === undefined || localDomain) {
      keys.push([local, '']);
      if (bare !== undefined) keys.push([bare, ext]);
    }
    if (domain !== undefined) keys.push([`@${domain}`, ext]);
    for (const [key, stripped] of keys) {
      for (const d of dicts) {
        const v = await d.lookup(key);
        if (v !== undefined) return { value: v.trim(), ext: stripped };
      }
    }
    return undefined;
  }

  /** Append an unmatched extension to a result (`user+ext` → `other+ext@...`) when configured. */
  private withExtension(result: string, ext: string, kind: 'canonical' | 'virtual'): string {
    if (!ext || !this.propagate.has(kind)) return result;
    const { local, domain } = splitAddress(result);
    return joinAddress(local + ext, domain);
  }

  private async canonical(address: string, tables: LazyDicts): Promise<string> {
    let a = address;
    for (let i = 0; i < CANONICAL_ROUNDS; i++) {
      const hit = await this.find(tables, a);
      if (!hit || !hit.value) break;
      const raw = splitList(hit.value)[0] ?? a;
      const next = this.rewriter.rewrite(
        raw.startsWith('@') ? sameUser(raw, a) : this.withExtension(raw, hit.ext, 'canonical'),
      );
      if (next.toLowerCase() === a.toLowerCase()) break;
      a = next;
    }
    return a;
  }

  /** `user@host.sub.example.com` → `user@example.com` for masquerade_domains = example.com. */
  private masquerade(address: string): string {
    if (this.masqDomains.length === 0) return address;
    const { local, domain } = splitAddress(address);
    if (domain === undefined || this.masqDomains.length === 0 || this.masqExceptions.has(local.toLowerCase())) {
      return address;
    }
    const d = domain.toLowerCase();
    for (const m of this.masqDomains) {
      // `!host.example.com` keeps that domain (and its subdomains) as written.
      if (m.startsWith('!')) {
        const ex = m.slice(1);
        if (d === ex || d.endsWith(`.${ex}`)) return address;
        continue;
      }
      if (d.endsWith(`.${m}`)) return joinAddress(local, m);
    }
    return address;
  }

  private async expand(address: string, depth: number, out: string[], seen: Set<string>): Promise<void> {
    if (out.length >= this.expansionLimit)
      throw new Error(`unreasonable virtual_alias_maps map expansion size for ${address}`);
    if (depth > this.recursionLimit) throw new Error(`unreasonable virtual_alias_maps map nesting for ${address}`);
    const key = address.toLowerCase();
    const hit = seen.has(key) ? undefined : await this.find(this.virtual, address);
    if (!hit) {
      if (!out.some((o) => o.toLowerCase() === key)) out.push(address);
      return;
    }
    seen.add(key);
    for (const [i, item] of splitList(hit.value).entries()) {
      const t = this.rewriter.rewrite(
        i === 0 && item.startsWith('@') ? sameUser(item, address) : this.withExtension(item, hit.ext, 'virtual'),
      );
      if (t.length > this.lengthLimit) continue;
      // An alias that lists itself delivers to itself rather than looping.
      if (t.toLowerCase() === key) {
        if (!out.some((o) => o.toLowerCase() === key)) out.push(t);
        continue;
      }
      await this.expand(t, depth + 1, out, seen);
    }
    seen.delete(key);
  }
}

/**
 * canonical(5)/virtual(5): a result `@otherdomain` means the same user in
 * otherdomain (only for the first address of a result). The user keeps its
 * extension, so no extension is propagated again.
 */
function sameUser(result: string, address: string): string {
  if (!result.startsWith('@')) return result;
  return `${splitAddress(address).local}${result}`;
}
