// Postfix's "namadr" match lists (mynetworks-style): a client matches by IP
// address, CIDR block (`192.0.2.0/24`, `[2001:db8::]/32`), host name or
// parent domain (`.example.com`, and `example.com` matching subdomains as
// with parent_domain_matches_subdomains). Used for
// smtpd_forbid_bare_newline_exclusions, smtpd_client_event_limit_exceptions
// and the XCLIENT/XFORWARD authorisations. `type:table` items need the dict
// layer and are reported once, then skipped.
import { isIP } from 'node:net';

export interface ClientIdentity {
  readonly addr: string;
  readonly name: string;
}

function ipBytes(addr: string): number[] | undefined {
  const kind = isIP(addr);
  if (kind === 4) return addr.split('.').map((p) => Number.parseInt(p, 10));
  if (kind !== 6) return undefined;
  let text = addr;
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    tail = v4[1].split('.').map((p) => Number.parseInt(p, 10));
    text = text.slice(0, -v4[1].length) + '0:0';
  }
  const [head = '', rest] = text.split('::');
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest ? rest.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  const bytes = groups.flatMap((g) => {
    const n = Number.parseInt(g || '0', 16);
    return [n >> 8, n & 0xff];
  });
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** IPv4-mapped IPv6 (`::ffff:192.0.2.1`) as the plain IPv4 address, as Postfix logs it. */
export function normalizeAddr(addr: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  return m?.[1] ?? addr;
}

function cidrMatch(addr: number[], net: number[], bits: number): boolean {
  if (addr.length !== net.length || bits > addr.length * 8) return false;
  for (let i = 0; i < bits; i++) {
    const byte = Math.floor(i / 8);
    const mask = 0x80 >> (i % 8);
    if (((addr[byte] ?? 0) & mask) !== ((net[byte] ?? 0) & mask)) return false;
  }
  return true;
}

type Item =
  | { readonly negate: boolean; readonly kind: 'cidr'; readonly net: number[]; readonly bits: number }
  | { readonly negate: boolean; readonly kind: 'table'; readonly text: string }
  | { readonly negate: boolean; readonly kind: 'name'; readonly text: string; readonly domain: string };

// Items are parsed once: a session consults these lists several times per
// message (bare newlines, event-limit exceptions), so per-call regexps showed
// up in the benchmark's profile.
function parseItem(raw: string): Item {
  const negate = raw.startsWith('!');
  const text = (negate ? raw.slice(1) : raw).toLowerCase();
  const cidr = /^\[?([0-9a-f:.]+)\]?(?:\/(\d+))?$/.exec(text);
  if (cidr?.[1] && isIP(cidr[1])) {
    const net = ipBytes(cidr[1]) ?? [];
    const bits = cidr[2] !== undefined ? Number.parseInt(cidr[2], 10) : net.length * 8;
    return { negate, kind: 'cidr', net, bits };
  }
  if (/^[a-z0-9]+:/.test(text) && !isIP(text)) return { negate, kind: 'table', text };
  return { negate, kind: 'name', text, domain: text.startsWith('.') ? text.slice(1) : text };
}

/** Answers kept per list: sessions ask the same few lists about the same clients several times each. */
const MEMO_MAX = 1000;

export class ClientList {
  private readonly warned = new Set<string>();
  private readonly parsed: readonly Item[];
  private readonly memo = new Map<string, boolean>();
  private last = { addr: '', name: '', hit: false };
  constructor(
    items: readonly string[],
    private readonly warn: (text: string) => void = () => undefined,
  ) {
    this.parsed = items.map(parseItem);
  }

  matches(client: ClientIdentity): boolean {
    if (this.parsed.length === 0) return false;
    // The last client asked again (the same session, or the next one from the same host) needs no key.
    const last = this.last;
    if (last.addr === client.addr && last.name === client.name) return last.hit;
    const key = `${client.addr}\0${client.name}`;
    let hit = this.memo.get(key);
    if (hit === undefined) {
      hit = this.evaluate(client);
      if (this.memo.size >= MEMO_MAX) this.memo.clear();
      this.memo.set(key, hit);
    }
    this.last = { addr: client.addr, name: client.name, hit };
    return hit;
  }

  private evaluate(client: ClientIdentity): boolean {
    const addr = ipBytes(normalizeAddr(client.addr));
    const name = client.name.toLowerCase();
    for (const item of this.parsed) {
      if (this.itemMatches(item, addr, name)) return !item.negate;
    }
    return false;
  }

  private itemMatches(item: Item, addr: number[] | undefined, name: string): boolean {
    if (item.kind === 'cidr') return addr !== undefined && cidrMatch(addr, item.net, item.bits);
    if (item.kind === 'table') {
      if (!this.warned.has(item.text)) {
        this.warned.add(item.text);
        this.warn(`table lookups are not supported in this list: ${item.text}: skipped`);
      }
      return false;
    }
    if (name === 'unknown' || name === '') return false;
    return name === item.text || name.endsWith(`.${item.domain}`);
  }
}
