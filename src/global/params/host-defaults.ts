// Defaults Postfix computes from the machine it runs on: myhostname, mydomain,
// mynetworks (per mynetworks_style: host, subnet or class), process_id,
// process_name. Results depend on the host, so tests compare them loosely.
import { hostname } from 'node:os';
import { basename, dirname } from 'node:path';
import { mynetworksForStyle } from '../match/mynetworks.js';

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

/** The local networks in the given mynetworks_style. */
export function myNetworks(style: string): string {
  return mynetworksForStyle(style);
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
