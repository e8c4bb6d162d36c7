// local_header_rewrite_clients: which SMTP clients count as "local", so that
// cleanup treats their mail like locally submitted mail (it adds missing
// From:/Date:/Message-Id: headers). Supports permit_inet_interfaces,
// permit_mynetworks (address and CIDR entries), permit_sasl_authenticated and
// static:all; table lookups (check_address_map) need the dict layer and do
// not match until it is wired in.
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ClientInfo } from '../../global/queue/cleanup-api.js';
import type { ParamReader } from '../../global/params/types.js';

function stripBrackets(item: string): string {
  return item.replace(/^\[([^\]]*)\](\/\d+)?$/, '$1$2');
}

function normalize(addr: string): { addr: string; type: 'ipv4' | 'ipv6' } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  const a = mapped ? (mapped[1] ?? addr) : addr;
  const v = isIP(a);
  return v === 4 ? { addr: a, type: 'ipv4' } : v === 6 ? { addr: a, type: 'ipv6' } : undefined;
}

export function networkList(items: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of items) {
    const item = stripBrackets(raw);
    const [addr = '', bits] = item.split('/');
    const n = normalize(addr);
    if (!n) continue; // host names and tables are not address literals
    if (bits === undefined) list.addAddress(n.addr, n.type);
    else list.addSubnet(n.addr, Number.parseInt(bits, 10), n.type);
  }
  return list;
}

// Interfaces change rarely; asking the kernel per message is what makes it costly.
let interfaces: { list: BlockList; at: number } | undefined;
const INTERFACE_TTL_MS = 10_000;
const networkCache = new Map<string, BlockList>();

function cachedNetworkList(items: readonly string[]): BlockList {
  const key = items.join(' ');
  let list = networkCache.get(key);
  if (!list) {
    if (networkCache.size >= 32) networkCache.clear();
    list = networkList(items);
    networkCache.set(key, list);
  }
  return list;
}

function interfaceAddresses(): BlockList {
  const now = Date.now();
  if (interfaces && now - interfaces.at < INTERFACE_TTL_MS) return interfaces.list;
  const list = new BlockList();
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) list.addAddress(a.address.replace(/%.*$/, ''), a.family === 'IPv6' ? 'ipv6' : 'ipv4');
  }
  interfaces = { list, at: now };
  return list;
}

// BlockList.check builds a SocketAddress per call and runs twice per message;
// the answers are kept per list (a new interface list every 10 s starts afresh).
const checked = new WeakMap<BlockList, Map<string, boolean>>();
const CHECKED_MAX = 1000;

function inList(list: BlockList, addr: { addr: string; type: 'ipv4' | 'ipv6' }): boolean {
  let seen = checked.get(list);
  if (!seen) {
    seen = new Map();
    checked.set(list, seen);
  }
  let hit = seen.get(addr.addr);
  if (hit === undefined) {
    hit = list.check(addr.addr, addr.type);
    if (seen.size >= CHECKED_MAX) seen.clear();
    seen.set(addr.addr, hit);
  }
  return hit;
}

export function isLocalRewriteClient(cfg: ParamReader, client: ClientInfo | undefined): boolean {
  if (!client) return true;
  const addr = normalize(client.addr);
  for (const item of cfg.list('local_header_rewrite_clients')) {
    switch (item.toLowerCase()) {
      case 'static:all':
        return true;
      case 'permit_sasl_authenticated':
        if (client.saslUsername) return true;
        break;
      case 'permit_inet_interfaces':
        if (addr && inList(interfaceAddresses(), addr)) return true;
        break;
      case 'permit_mynetworks':
        if (addr && inList(cachedNetworkList(cfg.list('mynetworks')), addr)) return true;
        break;
      default:
        break;
    }
  }
  return false;
}
