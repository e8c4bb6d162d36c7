// Client tables that ask a server over a socket: socketmap: (Sendmail's
// netstring protocol, `socketmap:inet:host:port:name` or
// `socketmap:unix:/path:name`) and tcp: (tcp_table(5): `get key` lines with
// %XX encoding). Postfix's dict_sockmap.c and dict_tcp.c. One connection per
// table, requests serialised; errors and timeouts are temporary failures.
import { connect, type Socket } from 'node:net';
import { DictRetryError, type Dict } from './dict-api.js';
import { TableSyntaxError } from './table-source.js';

const TIMEOUT_MS = 10_000;
const MAX_REPLY = 100_000;

export type Endpoint = { path: string } | { host: string; port: number };

export function parseEndpoint(text: string, spec: string): Endpoint {
  if (text.startsWith('unix:')) return { path: text.slice(5) };
  const hp = text.startsWith('inet:') ? text.slice(5) : text;
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(hp);
  if (!m?.[1] || !m[2]) throw new TableSyntaxError(`${spec}: expected host:port or unix:/path`);
  return { host: m[1], port: Number(m[2]) };
}

/** One request at a time over a lazily (re)connected socket. */
export class Channel {
  private sock: Socket | undefined;
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ep: Endpoint,
    private readonly spec: string,
  ) {}

  private ensure(): Socket {
    if (this.sock && !this.sock.destroyed) return this.sock;
    this.buf = Buffer.alloc(0);
    this.failure = undefined;
    const s = 'path' in this.ep ? connect(this.ep.path) : connect(this.ep.port, this.ep.host);
    s.on('data', (d: Buffer) => {
      if (this.sock !== s) return;
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    const fail = (e: Error): void => {
      // A replaced connection's late events must not fail the current one.
      if (this.sock !== s) return;
      this.failure = new DictRetryError(`${this.spec}: ${e.message}`);
      s.destroy();
      this.waiter?.();
    };
    s.on('error', fail);
    s.on('close', () => fail(new Error('connection closed by server')));
    // The server said goodbye: the next request needs a new connection (its 'close' may come later).
    s.on('end', () => {
      if (this.sock === s && !this.waiter) this.sock = undefined;
    });
    this.sock = s;
    return s;
  }

  /** Send `req`, then wait until `parse` finds a complete reply in the buffer. */
  request<T>(req: Buffer, parse: (buf: Buffer) => { value: T; used: number } | undefined): Promise<T> {
    const run = async (): Promise<T> => {
      try {
        return await attempt();
      } catch (e) {
        // A kept-open connection the server closed while idle fails before any reply: retry once, afresh.
        if (e !== this.failure || !reused || this.buf.length > 0) throw e;
        this.sock?.destroy();
        this.sock = undefined;
        return attempt();
      }
    };
    let reused = false;
    const attempt = async (): Promise<T> => {
      reused = this.sock !== undefined && !this.sock.destroyed;
      const s = this.ensure();
      s.write(req);
      const deadline = Date.now() + TIMEOUT_MS;
      for (;;) {
        const r = parse(this.buf);
        if (r) {
          this.buf = this.buf.subarray(r.used);
          return r.value;
        }
        if (this.failure) throw this.failure;
        if (this.buf.length > MAX_REPLY) {
          s.destroy();
          throw new DictRetryError(`${this.spec}: reply too long`);
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          s.destroy();
          throw new DictRetryError(`${this.spec}: timeout`);
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          this.waiter = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.waiter = undefined;
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  close(): void {
    this.sock?.destroy();
  }
}

function netstring(text: string): Buffer {
  const b = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from(`${b.length}:`), b, Buffer.from(',')]);
}

function parseNetstring(buf: Buffer): { value: string; used: number } | undefined {
  const colon = buf.indexOf(0x3a);
  if (colon < 0) return undefined;
  const lenText = buf.subarray(0, colon).toString('latin1');
  if (!/^\d{1,6}$/.test(lenText)) throw new DictRetryError(`socketmap: malformed netstring length "${lenText}"`);
  const len = Number(lenText);
  if (buf.length < colon + 1 + len + 1) return undefined;
  if (buf[colon + 1 + len] !== 0x2c) throw new DictRetryError('socketmap: netstring not terminated by ","');
  return { value: buf.subarray(colon + 1, colon + 1 + len).toString('utf8'), used: colon + 2 + len };
}

export function openSocketmap(spec: string, name: string): Dict {
  const last = name.lastIndexOf(':');
  if (last < 0)
    throw new TableSyntaxError(`${spec}: expected socketmap:inet:host:port:name or socketmap:unix:path:name`);
  const mapName = name.slice(last + 1);
  const ch = new Channel(parseEndpoint(name.slice(0, last), spec), spec);
  return {
    spec,
    async lookup(key: string): Promise<string | undefined> {
      const reply = await ch.request(netstring(`${mapName} ${key}`), parseNetstring);
      const sp = reply.indexOf(' ');
      const status = sp < 0 ? reply : reply.slice(0, sp);
      const text = sp < 0 ? '' : reply.slice(sp + 1);
      if (status === 'OK') return text;
      if (status === 'NOTFOUND') return undefined;
      throw new DictRetryError(`${spec}: ${status} ${text}`.trimEnd());
    },
    close: () => Promise.resolve(ch.close()),
  };
}

/** tcp_table(5) encoding: %XX for whitespace, controls, `%` and non-ASCII bytes. */
export function tcpEncode(text: string): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    out +=
      b <= 32 || b === 37 || b >= 127 ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  }
  return out;
}

export function tcpDecode(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '%' && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else bytes.push(text.charCodeAt(i) & 0xff);
  }
  return Buffer.from(bytes).toString('utf8');
}

function parseLine(buf: Buffer): { value: string; used: number } | undefined {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) return undefined;
  return { value: buf.subarray(0, nl).toString('latin1').replace(/\r$/, ''), used: nl + 1 };
}

export function openTcp(spec: string, name: string): Dict {
  const ch = new Channel(parseEndpoint(name, spec), spec);
  return {
    spec,
    async lookup(key: string): Promise<string | undefined> {
      const reply = await ch.request(Buffer.from(`get ${tcpEncode(key)}\n`, 'latin1'), parseLine);
      const m = /^(\d{3})[ -]?(.*)$/.exec(reply);
      if (m?.[1] === '200') return tcpDecode(m[2] ?? '');
      if (m?.[1]?.startsWith('5')) return undefined;
      throw new DictRetryError(`${spec}: ${reply}`);
    },
    close: () => Promise.resolve(ch.close()),
  };
}
