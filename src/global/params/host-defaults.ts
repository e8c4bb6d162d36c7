// Defaults Postfix computes from the machine it runs on: myhostname, mydomain,
// mynetworks (per mynetworks_style), process_id, process_name.
import { hostname, networkInterfaces } from 'node:os';

let cachedHost: string | undefined;

function myHostname(): string {
  if (cachedHost === undefined) {
    const h = hostname();
    // Postfix insists on a fully-qualified name; a bare host name gets `.localdomain`.
    cachedHost = h.includes('.') ? h : `${h}.localdomain`;
  }
  return cachedHost;
}

function myDomain(): string {
  const h = myHostname();
  const dot = h.indexOf('.');
  return dot >= 0 ? h.slice(dot + 1) : 'localdomain';
}

/** The local networks in `host` style: every interface address as a host route. */
function myNetworksHost(): string {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4') v4.push(`${a.address}/32`);
      else v6.push(`[${a.address.replace(/%.*$/, '')}]/128`);
    }
  }
  return [...v4, ...v6].join(' ');
}

export function hostDefault(name: string): string | undefined {
  switch (name) {
    case 'myhostname':
      return myHostname();
    case 'mydomain':
      return myDomain();
    case 'mynetworks':
      return myNetworksHost();
    case 'process_id':
      return String(process.pid);
    case 'process_name':
      return 'postern';
    default:
      return undefined;
  }
}
