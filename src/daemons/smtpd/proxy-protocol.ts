// The HAProxy PROXY protocol (smtpd_upstream_proxy_protocol = haproxy): a
// load balancer in front of smtpd sends the real client's address and port
// before any SMTP, as one v1 text line (`PROXY TCP4 src dst sport dport\r\n`)
// or a v2 binary header. Postfix 3.7 accepts TCP over IPv4 and IPv6 (as
// enabled by inet_protocols), and a v2 LOCAL command (a health check: the
// proxy's own connection is the client). Error texts are Postfix's
// haproxy_srvr ones, since they appear in `haproxy read: ...` warnings.
import { isIPv6 } from 'node:net';

/** Postfix never looks further than this many bytes for a header. */
export const PROXY_HEADER_MAX = 536;
/** A v1 line is at most 107 bytes including CRLF (the protocol's own limit). */
const V1_MAX = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_HEADER_LEN = 16;
const V1_PREFIX = Buffer.from('PROXY ');

export interface Endpoint {
  readonly addr: string;
  readonly port: number;
}

export type ProxyHeader =
  /** Not enough bytes yet. */
  | { readonly status: 'more' }
  | { readonly status: 'error'; readonly reason: string }
  /** `length` bytes belong to the header; `proxied: false` is a v2 LOCAL (health check) connection. */
  | { readonly status: 'ok'; readonly length: number; readonly proxied: false }
  | {
      readonly status: 'ok';
      readonly length: number;
      readonly proxied: true;
      readonly client: Endpoint;
      readonly server: Endpoint;
    };

export interface Families {
  readonly ipv4: boolean;
  readonly ipv6: boolean;
}

/** The address families inet_protocols enables (`all`, `ipv4`, `ipv6`, or a list). */
export function inetFamilies(values: readonly string[]): Families {
  const v = values.map((x) => x.toLowerCase());
  const all = v.includes('all');
  return { ipv4: all || v.includes('ipv4'), ipv6: all || v.includes('ipv6') };
}

/** Whether `buf` could still grow into `prefix` (or already starts with it). */
function compatible(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

export function parseProxyHeader(buf: Buffer, families: Families): ProxyHeader {
  if (compatible(buf, V1_PREFIX)) {
    if (buf.length < V1_PREFIX.length) return { status: 'more' };
    return parseV1(buf, families);
  }
  if (compatible(buf, V2_SIGNATURE)) {
    if (buf.length < V2_HEADER_LEN) return { status: 'more' };
    return parseV2(buf, families);
  }
  // Neither form: Postfix reports what a single read of these bytes would give.
  return {
    status: 'error',
    reason: buf.length < V2_HEADER_LEN ? 'short protocol header' : 'unrecognized protocol header',
  };
}

function parseV1(buf: Buffer, families: Families): ProxyHeader {
  const lf = buf.subarray(0, V1_MAX).indexOf(0x0a);
  if (lf < 0) {
    return buf.length < V1_MAX ? { status: 'more' } : { status: 'error', reason: 'missing protocol header terminator' };
  }
  const tokens = buf
    .subarray(0, lf)
    .toString('latin1')
    .split(/[ \r]+/)
    .filter((t) => t !== '');
  const [, proto = '', src, dst, sport, dport] = tokens;
  const fam =
    proto.toUpperCase() === 'TCP4' && families.ipv4 ? 4 : proto.toUpperCase() === 'TCP6' && families.ipv6 ? 6 : 0;
  if (fam === 0) return { status: 'error', reason: 'bad or missing protocol type' };
  const clientAddr = textAddress(src, fam, families);
  if (clientAddr === undefined) return { status: 'error', reason: 'bad or missing client address' };
  const serverAddr = textAddress(dst, fam, families);
  if (serverAddr === undefined) return { status: 'error', reason: 'bad or missing server address' };
  const clientPort = textPort(sport);
  if (clientPort === undefined) return { status: 'error', reason: 'bad or missing client port' };
  const serverPort = textPort(dport);
  if (serverPort === undefined) return { status: 'error', reason: 'bad or missing server port' };
  return {
    status: 'ok',
    length: lf + 1,
    proxied: true,
    client: { addr: clientAddr, port: clientPort },
    server: { addr: serverAddr, port: serverPort },
  };
}

function parseV2(buf: Buffer, families: Families): ProxyHeader {
  const verCmd = buf[12] ?? 0;
  if (verCmd >> 4 !== 2) return { status: 'error', reason: 'unrecognized protocol version' };
  const len = buf.readUInt16BE(14);
  const total = V2_HEADER_LEN + len;
  if (total > PROXY_HEADER_MAX) return { status: 'error', reason: 'short version 2 protocol header' };
  if (buf.length < total) return { status: 'more' };
  const cmd = verCmd & 0x0f;
  // TLVs after the addresses are skipped, as Postfix does.
  if (cmd === 0x0) return { status: 'ok', length: total, proxied: false };
  if (cmd !== 0x1) return { status: 'error', reason: 'bad command in proxy header' };
  const a = buf.subarray(V2_HEADER_LEN, total);
  switch (buf[13]) {
    case 0x11: {
      if (!families.ipv4) return { status: 'error', reason: 'Postfix IPv4 support is disabled' };
      if (len < 12) return { status: 'error', reason: 'short address field' };
      return {
        status: 'ok',
        length: total,
        proxied: true,
        client: { addr: [...a.subarray(0, 4)].join('.'), port: a.readUInt16BE(8) },
        server: { addr: [...a.subarray(4, 8)].join('.'), port: a.readUInt16BE(10) },
      };
    }
    case 0x21: {
      if (!families.ipv6) return { status: 'error', reason: 'Postfix IPv6 support is disabled' };
      if (len < 36) return { status: 'error', reason: 'short address field' };
      return {
        status: 'ok',
        length: total,
        proxied: true,
        client: { addr: binaryV6(a.subarray(0, 16), families), port: a.readUInt16BE(32) },
        server: { addr: binaryV6(a.subarray(16, 32), families), port: a.readUInt16BE(34) },
      };
    }
    default:
      return { status: 'error', reason: 'unsupported network protocol' };
  }
}

/** A v1 address in its canonical form; IPv4-mapped IPv6 becomes IPv4 when IPv4 is enabled. */
function textAddress(text: string | undefined, fam: 4 | 6, families: Families): string | undefined {
  if (text === undefined || text.length > 45) return undefined;
  if (fam === 4) {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
    if (!m) return undefined;
    const octets = m.slice(1).map((o) => Number.parseInt(o, 10));
    return octets.every((o) => o <= 255) ? octets.join('.') : undefined;
  }
  if (!isIPv6(text) || text.includes('%')) return undefined;
  return canonicalV6(text, families);
}

function canonicalV6(text: string, families: Families): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  if (mapped?.[1] && families.ipv4) return mapped[1];
  // The URL parser writes the RFC 5952 form (lower case, longest zero run compressed).
  const host = new URL(`http://[${text}]/`).hostname;
  const canon = host.slice(1, -1);
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canon);
  if (hexMapped && families.ipv4) {
    const hi = Number.parseInt(hexMapped[1] ?? '0', 16);
    const lo = Number.parseInt(hexMapped[2] ?? '0', 16);
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
  }
  return canon;
}

function binaryV6(b: Buffer, families: Families): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return canonicalV6(groups.join(':'), families);
}

/** A port as Postfix's valid_hostport() takes it: decimal, no leading zero, at most 65535. */
function textPort(text: string | undefined): number | undefined {
  if (text === undefined || !/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const n = Number.parseInt(text, 10);
  return n <= 65535 ? n : undefined;
}
