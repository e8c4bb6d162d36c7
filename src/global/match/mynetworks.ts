// The value `mynetworks` takes when main.cf does not set it (postconf(5)
// mynetworks_style): `host` lists this machine's addresses, `subnet` the
// networks its interfaces are attached to, `class` the whole class A/B/C
// network of each IPv4 interface (IPv6 interfaces count as `subnet`).
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { formatIp, parseIp } from './ip.js';

export type MynetworksStyle = 'host' | 'subnet' | 'class';

export interface InterfaceAddress {
  readonly address: string;
  /** Prefix length of the attached network. */
  readonly prefix: number;
}

export function hostInterfaces(): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? ([] as NetworkInterfaceInfo[])) {
      const prefix = Number.parseInt(a.cidr?.split('/')[1] ?? (a.family === 'IPv4' ? '32' : '128'), 10);
      out.push({ address: a.address.replace(/%.*$/, ''), prefix });
    }
  }
  return out;
}

/** The `mynetworks` text for a style, in Postfix's notation (`[v6]/len` for IPv6). */
export function mynetworksForStyle(style: string, interfaces: readonly InterfaceAddress[] = hostInterfaces()): string {
  // Postfix lists the IPv4 networks first, then the IPv6 ones.
  const v4: string[] = [];
  const v6: string[] = [];
  for (const i of interfaces) {
    const ip = parseIp(i.address);
    if (!ip) continue;
    const bits = ip.family === 4 ? 32 : 128;
    let prefix = bits;
    if (style === 'subnet' || (style === 'class' && ip.family === 6)) prefix = i.prefix;
    else if (style === 'class') {
      const first = Number(ip.value >> 24n);
      // Class D/E addresses have no network: keep them as host routes.
      prefix = first < 128 ? 8 : first < 192 ? 16 : first < 224 ? 24 : 32;
    }
    prefix = Math.min(bits, Math.max(0, prefix));
    const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);
    const net = formatIp({ family: ip.family, value: ip.value & mask });
    if (ip.family === 4) v4.push(`${net}/${prefix}`);
    else v6.push(`[${net}]/${prefix}`);
  }
  return [...new Set([...v4, ...v6])].join(' ');
}
