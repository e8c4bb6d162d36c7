// A fake authoritative DNS server on loopback for tests: answers from an
// in-memory zone over UDP and TCP (dns-packet on the wire), and can be told
// to SERVFAIL, stay silent (timeout), set the AD bit or truncate UDP answers.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import * as packet from 'dns-packet';

export interface ZoneRecord {
  readonly name: string;
  readonly type: 'A' | 'AAAA' | 'MX' | 'TLSA' | 'CNAME' | 'TXT';
  readonly data: unknown;
}

export interface FakeDnsOptions {
  readonly records: readonly ZoneRecord[];
  /** Names answered with SERVFAIL. */
  readonly servfail?: readonly string[];
  /** Names never answered. */
  readonly silent?: readonly string[];
  /** Names whose answers carry the AD bit. */
  readonly authentic?: readonly string[];
  /** Names whose UDP answers are truncated (TC set, no answers), forcing TCP. */
  readonly truncate?: readonly string[];
  /** Names answered with FORMERR when the query carries EDNS (an old server). */
  readonly noEdns?: readonly string[];
}

export class FakeDns {
  readonly queries: { name: string; type: string; tcp: boolean }[] = [];
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  port = 0;

  constructor(private readonly o: FakeDnsOptions) {}

  async start(): Promise<void> {
    // One port for both transports: bind UDP first, then TCP on the same number (retry if taken).
    for (let attempt = 0; attempt < 20; attempt++) {
      const udp = createSocket('udp4');
      await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
      const port = udp.address().port;
      const tcp = createServer((sock) => {
        let buf = Buffer.alloc(0);
        sock.on('error', () => undefined);
        sock.on('data', (c: Buffer) => {
          buf = Buffer.concat([buf, c]);
          if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
          const q = buf.subarray(2, 2 + buf.readUInt16BE(0));
          const a = this.answer(q, true);
          if (!a) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(a.length);
          sock.end(Buffer.concat([len, a]));
        });
      });
      const ok = await new Promise<boolean>((r) => {
        tcp.once('error', () => r(false));
        tcp.listen(port, '127.0.0.1', () => r(true));
      });
      if (!ok) {
        udp.close();
        continue;
      }
      udp.on('message', (msg, rinfo) => {
        const a = this.answer(msg, false);
        if (a) udp.send(a, rinfo.port, rinfo.address);
      });
      this.udp = udp;
      this.tcp = tcp;
      this.port = port;
      return;
    }
    throw new Error('no free port for the fake DNS server');
  }

  async stop(): Promise<void> {
    this.udp?.close();
    await new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r()));
  }

  private answer(msg: Buffer, tcp: boolean): Buffer | undefined {
    let q: packet.DecodedPacket;
    try {
      q = packet.decode(msg);
    } catch {
      return undefined;
    }
    const question = q.questions?.[0];
    if (!question) return undefined;
    const name = question.name.toLowerCase();
    this.queries.push({ name, type: question.type, tcp });
    if (this.o.silent?.includes(name)) return undefined;
    const base = { type: 'response' as const, id: q.id, questions: q.questions };
    let flags = packet.AUTHORITATIVE_ANSWER | packet.RECURSION_AVAILABLE;
    if (this.o.servfail?.includes(name)) return packet.encode({ ...base, flags: flags | 2 });
    if (this.o.noEdns?.includes(name) && q.additionals?.some((a) => a.type === 'OPT')) {
      return packet.encode({ ...base, flags: flags | 1 });
    }
    const exists = this.o.records.some((r) => r.name === name);
    if (!exists) return packet.encode({ ...base, flags: flags | 3 });
    if (!tcp && this.o.truncate?.includes(name))
      return packet.encode({ ...base, flags: flags | packet.TRUNCATED_RESPONSE });
    if (this.o.authentic?.includes(name)) flags |= packet.AUTHENTIC_DATA;
    const answers = this.o.records
      .filter((r) => r.name === name && r.type === question.type)
      .map((r) => ({ name: r.name, type: r.type, ttl: 60, class: 'IN', data: r.data }) as packet.Answer);
    return packet.encode({ ...base, flags, answers });
  }
}
