// Next-hop syntax of smtp(8) and lmtp(8): `domain` (MX lookup), `[host]`
// (no MX lookup), either with `:port`, IP literals in brackets (`[192.0.2.1]`,
// `[ipv6:2001:db8::1]`), and for lmtp `unix:/path` and `inet:host:port`.
import { isIP } from 'node:net';
import { parsePort, type Protocol } from './settings.js';

export type Destination =
  | {
      readonly kind: 'inet';
      /** Name (or address) as written, without brackets. */
      readonly host: string;
      readonly port: number;
      /** Whether MX records are looked up (no brackets, and DNS is on). */
      readonly mx: boolean;
      /** The host is an IP address literal. */
      readonly literal: boolean;
    }
  | { readonly kind: 'unix'; readonly path: string };

export class NexthopError extends Error {
  override name = 'NexthopError';
}

export function parseNexthop(text: string, protocol: Protocol, defaultPort: number): Destination {
  let s = text.trim();
  if (protocol === 'lmtp' || s.startsWith('unix:') || s.startsWith('inet:')) {
    if (s.startsWith('unix:')) {
      const path = s.slice(5);
      if (!path) throw new NexthopError(`bad destination syntax: ${text}`);
      return { kind: 'unix', path };
    }
    if (s.startsWith('inet:')) s = s.slice(5);
  }
  let host: string;
  let portText = '';
  let bracketed = false;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) throw new NexthopError(`bad destination syntax: ${text}`);
    host = s.slice(1, end);
    bracketed = true;
    const rest = s.slice(end + 1);
    if (rest) {
      if (!rest.startsWith(':')) throw new NexthopError(`bad destination syntax: ${text}`);
      portText = rest.slice(1);
    }
    if (/^ipv6:/i.test(host)) host = host.slice(5);
  } else {
    // An unbracketed IPv6 address has several colons; it cannot carry a port.
    const colons = s.split(':').length - 1;
    if (colons === 1) {
      const i = s.indexOf(':');
      host = s.slice(0, i);
      portText = s.slice(i + 1);
    } else host = s;
  }
  if (!host || host.length > 255 || /[\s/]/.test(host)) throw new NexthopError(`bad destination syntax: ${text}`);
  const port = portText ? parsePort(portText) : defaultPort;
  if (port === undefined) throw new NexthopError(`bad port in destination: ${text}`);
  const literal = isIP(host) !== 0;
  // lmtp never looks up MX records (Postfix's lmtp treats every destination as a host).
  return { kind: 'inet', host, port, mx: !bracketed && !literal && protocol === 'smtp', literal };
}
