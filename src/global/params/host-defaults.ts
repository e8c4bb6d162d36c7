// Defaults Postfix computes from the machine it runs on: myhostname, mydomain,
// mynetworks (per mynetworks_style: host, subnet or class), process_id,
// process_name. Results depend on the host, so tests compare them loosely.
import { hostname, networkInterfaces } from 'node:os';
import { basename, dirname } from 'node:path';

let cachedHost: string | undefined;

function myHostname(): string {
  if (cachedHost === undefined) {
    const h = hostname();
    // Postfix insists on a fully-qualified name; a bare host name gets `.localdomain`.
    cachedHost = h.includes('.') ? h : `${h}.localdomain`;
  }
  return cachedHost;
}

/** $myhostname without its first label; `localdomain` when it has only one. */
function myDomain(host: string): string {
  const dot = host.indexOf('.');
  const d = dot >= 0 ? host.slice(dot + 1) : '';
  return d !== '' ? d : 'localdomain';
}

function v4ToInt(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + (Number.parseInt(o, 10) & 255), 0);
}

function intToV4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** Expand an IPv6 text address to 8 groups. */
function v6Groups(a: string): number[] {
  const [head = '', tail] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => Number.parseInt(g, 16) || 0);
}

/** RFC 5952 text form: longest run of two or more zero groups becomes `::`. */
export function formatV6(groups: readonly number[]): string {
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

function v6Network(addr: string, prefix: number): string {
  const groups = v6Groups(addr).map((g, i) => {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    return bits === 0 ? 0 : g & ((0xffff << (16 - bits)) & 0xffff);
  });
  return formatV6(groups);
}

/** Network of an IPv4 address under a classful mask (class A, B or C; D/E kept as host). */
function classPrefix(addr: string): number {
  const first = Number.parseInt(addr.split('.')[0] ?? '0', 10);
  if (first < 128) return 8;
  if (first < 192) return 16;
  if (first < 224) return 24;
  return 32;
}

/** The local networks in the given mynetworks_style. */
export function myNetworks(style: string): string {
  const v4: string[] = [];
  const v6: string[] = [];
  const add = (list: string[], item: string): void => {
    if (!list.includes(item)) list.push(item);
  };
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      const prefix = Number.parseInt(a.cidr?.split('/')[1] ?? '', 10);
      if (a.family === 'IPv4') {
        if (style === 'host') add(v4, `${a.address}/32`);
        else {
          const p = style === 'class' ? classPrefix(a.address) : prefix;
          const bits = Number.isNaN(p) ? 32 : p;
          const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
          add(v4, `${intToV4((v4ToInt(a.address) & mask) >>> 0)}/${bits}`);
        }
      } else {
        const addr = a.address.replace(/%.*$/, '');
        if (style === 'host') add(v6, `[${addr}]/128`);
        else {
          const bits = Number.isNaN(prefix) ? 128 : prefix;
          add(v6, `[${v6Network(addr, bits)}]/${bits}`);
        }
      }
    }
  }
  return [...v4, ...v6].join(' ');
}

/** `bin/postconf` → postconf; `dist/src/daemons/smtpd/main.js` → smtpd. */
export function programName(script: string): string {
  const base = basename(script).replace(/\.[cm]?js$/, '');
  return base === 'main' || base === 'index' ? basename(dirname(script)) : base;
}

/**
 * The host-computed default of `name`, or undefined when it has none.
 * `lookup` reads other (expanded) parameters: mynetworks depends on mynetworks_style.
 */
export function hostDefault(name: string, lookup: (n: string) => string = () => ''): string | undefined {
  switch (name) {
    case 'myhostname':
      return myHostname();
    case 'mydomain':
      return myDomain(lookup('myhostname') || myHostname());
    case 'mynetworks':
      return myNetworks(lookup('mynetworks_style') || 'host');
    case 'process_id':
      return String(process.pid);
    case 'process_name':
      return process.env['POSTERN_PROCESS_NAME'] || programName(process.argv[1] ?? 'postern');
    default:
      return undefined;
  }
}
