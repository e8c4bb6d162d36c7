// IPv4/IPv6 addresses and CIDR networks as Postfix match lists write them
// (`192.0.2.0/24`, `[2001:db8::]/32`, `[::1]`): parse to integers and test
// membership. IPv4-mapped IPv6 client addresses compare as IPv4, as Postfix
// converts them on input.
import { isIPv4, isIPv6 } from 'node:net';

export interface IpAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

export interface IpNetwork {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
}

export class CidrError extends Error {
  override name = 'CidrError';
}

/** Parse an address, with or without `[...]`; `::ffff:1.2.3.4` becomes IPv4. */
export function parseIp(text: string): IpAddress | undefined {
  let t = text;
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  if (isIPv4(t)) return { family: 4, value: v4ToBigint(t) };
  t = t.replace(/^ipv6:/i, '').replace(/%.*$/, '');
  if (isIPv4(t)) return { family: 4, value: v4ToBigint(t) };
  if (!isIPv6(t)) return undefined;
  const v = v6ToBigint(t);
  if (v >> 32n === 0xffffn) return { family: 4, value: v & 0xffffffffn };
  return { family: 6, value: v };
}

function v4ToBigint(t: string): bigint {
  // In a number first: one BigInt per address instead of one per octet and shift.
  let v = 0;
  for (const o of t.split('.')) v = v * 256 + Number.parseInt(o, 10);
  return BigInt(v);
}

function v6ToBigint(t: string): bigint {
  let text = t;
  // A trailing dotted quad counts as the last two 16-bit groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad?.[1]) {
    const v = v4ToBigint(quad[1]);
    text = `${text.slice(0, -quad[1].length)}${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const tl = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - h.length - tl.length;
  const groups = [...h, ...Array<string>(zeros).fill('0'), ...tl];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g || '0', 16)), 0n);
}

/**
 * Parse `addr`, `addr/len`, `[v6]`, `[v6]/len` or `v6/len`. A network with
 * host bits set is an error, as Postfix refuses it ("non-null host address bits").
 * Returns undefined when the text is not an address pattern at all.
 */
export function parseNetwork(text: string): IpNetwork | undefined {
  const m = /^(\[[^\]]+\]|[^/]+)(?:\/(\d{1,3}))?$/.exec(text);
  if (!m?.[1]) return undefined;
  const ip = parseIp(m[1]);
  if (!ip) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  // `::ffff:1.2.3.0/120` was written in IPv6 terms; keep the prefix meaningful for IPv4.
  const written6 = m[1].includes(':');
  let prefix = m[2] === undefined ? bits : Number.parseInt(m[2], 10);
  if (written6 && ip.family === 4 && m[2] !== undefined) prefix -= 96;
  if (prefix < 0 || prefix > bits) throw new CidrError(`bad network mask length in "${text}"`);
  const mask = prefixMask(ip.family, prefix);
  if ((ip.value & ~mask & allOnes(ip.family)) !== 0n) {
    const net = formatIp({ family: ip.family, value: ip.value & mask });
    const shown = ip.family === 6 ? `[${net}]/${prefix}` : `${net}/${prefix}`;
    throw new CidrError(`non-null host address bits in "${text}", perhaps you should use "${shown}" instead`);
  }
  return { family: ip.family, network: ip.value, prefix };
}

function allOnes(family: 4 | 6): bigint {
  return family === 4 ? 0xffffffffn : (1n << 128n) - 1n;
}

function prefixMask(family: 4 | 6, prefix: number): bigint {
  const bits = family === 4 ? 32 : 128;
  return (allOnes(family) << BigInt(bits - prefix)) & allOnes(family);
}

export function networkContains(net: IpNetwork, ip: IpAddress): boolean {
  if (net.family !== ip.family) return false;
  return (ip.value & prefixMask(net.family, net.prefix)) === net.network;
}

/** Canonical text: dotted quad, or RFC 5952 compressed IPv6. */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    const v = Number(ip.value);
    return [24, 16, 8, 0].map((s) => (v >>> s) & 255).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  // Longest run of zero groups (length >= 2) becomes `::`.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
