// The machine's own addresses for trivial-rewrite(8): `user@[addr]` is local
// mail when addr is one of inet_interfaces or proxy_interfaces.
import { networkInterfaces } from 'node:os';
import type { ParamReader } from '../../global/params/types.js';

export function localInterfaceAddresses(config: ParamReader): Set<string> {
  const out = new Set<string>();
  for (const item of config.list('inet_interfaces')) {
    const v = item.toLowerCase();
    if (v === 'all') {
      for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address);
    } else if (v === 'loopback-only') {
      out.add('127.0.0.1');
      out.add('::1');
    } else if (v === 'localhost') {
      out.add('127.0.0.1');
      out.add('::1');
    } else out.add(stripBrackets(v));
  }
  for (const item of config.list('proxy_interfaces')) out.add(stripBrackets(item.toLowerCase()));
  return out;
}

function stripBrackets(v: string): string {
  return v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
}
