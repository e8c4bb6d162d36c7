// A stub DNS client on the wire (RFC 1035 over UDP, TCP on truncation, EDNS0
// with the DO bit for DNSSEC), used by the smtp(8) client for MX/A/AAAA/TLSA
// lookups and later by smtpd and policy checks. It talks to recursive servers
// from resolv.conf, or to whatever servers a test hands it (a fake
// authoritative server on loopback). Packet encoding is dns-packet's job.
import { createSocket } from 'node:dgram';
import { createConnection, isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import * as packet from 'dns-packet';
import type { NameServer, ResolverSettings } from './resolv-conf.js';

export type RecordType = 'A' | 'AAAA' | 'MX' | 'TLSA' | 'CNAME' | 'TXT' | 'PTR';

/** RCODE values (RFC 1035 section 4.1.1) that matter to callers. */
export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;

export interface DnsResponse {
  readonly rcode: number;
  /** Authenticated Data: the recursive server validated the answer (DNSSEC). */
  readonly ad: boolean;
  readonly answers: readonly packet.Answer[];
}

/** No server answered (timeouts, refused connections, garbage replies). */
export class DnsTransportError extends Error {
  override name = 'DnsTransportError';
}

/** Replies larger than this are not accepted over TCP (a DNS message is at most 64 KiB anyway). */
const MAX_TCP_REPLY = 65535 + 2;
const EDNS_UDP_SIZE = 1232;

export class DnsClient {
  constructor(private readonly settings: ResolverSettings) {}

  /** Ask each server in turn, `attempts` rounds, until one gives a usable reply. */
  async query(name: string, type: RecordType, dnssec = false): Promise<DnsResponse> {
    let lastError = 'no name servers';
    for (let round = 0; round < this.settings.attempts; round++) {
      for (const server of this.settings.servers) {
        try {
          return await this.queryServer(server, name, type, dnssec);
        } catch (e) {
          lastError = (e as Error).message;
        }
      }
    }
    throw new DnsTransportError(lastError);
  }

  private async queryServer(server: NameServer, name: string, type: RecordType, dnssec: boolean): Promise<DnsResponse> {
    const res = await this.exchange(server, name, type, dnssec, true);
    // RFC 6891 section 7: a server that does not know EDNS answers FORMERR; ask it the old way.
    if (res.rcode === RCODE_FORMERR) return this.exchange(server, name, type, false, false);
    return res;
  }

  private async exchange(
    server: NameServer,
    name: string,
    type: RecordType,
    dnssec: boolean,
    edns: boolean,
  ): Promise<DnsResponse> {
    const id = randomInt(0, 65536);
    const query: packet.Packet = {
      type: 'query',
      id,
      flags: packet.RECURSION_DESIRED | (dnssec ? packet.AUTHENTIC_DATA : 0),
      questions: [{ type, name, class: 'IN' }],
      additionals: !edns
        ? []
        : [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: EDNS_UDP_SIZE,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: dnssec ? packet.DNSSEC_OK : 0,
              flag_do: dnssec,
              options: [],
            },
          ],
    };
    let reply = await this.udp(server, packet.encode(query), id, name, type);
    // RFC 7766: a truncated UDP reply means "ask again over TCP".
    if (reply.flag_tc) reply = await this.tcp(server, packet.encode(query), id, name, type);
    return { rcode: (reply.flags ?? 0) & 0xf, ad: reply.flag_ad, answers: reply.answers ?? [] };
  }

  private udp(server: NameServer, msg: Buffer, id: number, name: string, type: string): Promise<packet.DecodedPacket> {
    return new Promise((resolve, reject) => {
      const sock = createSocket(isIPv6(server.host.replace(/%.*$/, '')) ? 'udp6' : 'udp4');
      const timer = setTimeout(
        () => finish(new DnsTransportError(`timeout querying ${server.host}`)),
        this.settings.timeoutMs,
      );
      let done = false;
      // A duplicated datagram or a late error must not close the socket twice.
      const finish = (err: Error | null, p?: packet.DecodedPacket): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.close();
        if (err) reject(err);
        else if (p) resolve(p);
      };
      sock.on('error', (e) => finish(e));
      sock.on('message', (buf, rinfo) => {
        // Ignore stray datagrams: wrong source, wrong id, or a different question.
        if (rinfo.port !== server.port || rinfo.address !== server.host.replace(/%.*$/, '')) return;
        const p = decodeMatching(buf, id, name, type);
        if (p) finish(null, p);
      });
      sock.send(msg, server.port, server.host, (e) => {
        if (e) finish(e);
      });
    });
  }

  private tcp(server: NameServer, msg: Buffer, id: number, name: string, type: string): Promise<packet.DecodedPacket> {
    return new Promise((resolve, reject) => {
      const sock = createConnection({ host: server.host, port: server.port });
      let buf = Buffer.alloc(0);
      const timer = setTimeout(
        () => finish(new DnsTransportError(`timeout querying ${server.host}`)),
        this.settings.timeoutMs,
      );
      const finish = (err: Error | null, p?: packet.DecodedPacket): void => {
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else if (p) resolve(p);
      };
      sock.on('error', (e) => finish(e));
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(msg.length);
        sock.write(Buffer.concat([len, msg]));
      });
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length > MAX_TCP_REPLY) return finish(new DnsTransportError('oversized TCP reply'));
        if (buf.length < 2) return;
        const want = buf.readUInt16BE(0);
        if (buf.length < 2 + want) return;
        const p = decodeMatching(buf.subarray(2, 2 + want), id, name, type);
        finish(p ? null : new DnsTransportError('malformed TCP reply'), p);
      });
      sock.on('end', () => finish(new DnsTransportError('connection closed by name server')));
    });
  }
}

function decodeMatching(buf: Buffer, id: number, name: string, type: string): packet.DecodedPacket | undefined {
  try {
    const p = packet.decode(buf);
    const q = p.questions?.[0];
    if (p.id !== id || p.type !== 'response' || !q) return undefined;
    if (q.type !== type || q.name.toLowerCase() !== name.toLowerCase().replace(/\.$/, '')) return undefined;
    return p;
  } catch {
    return undefined;
  }
}
