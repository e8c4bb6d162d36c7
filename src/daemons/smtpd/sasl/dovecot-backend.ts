// smtpd_sasl_type = dovecot: SASL through Dovecot's authentication server
// (the client side of Dovecot's auth protocol, version 1.2: VERSION/CPID
// handshake, MECH list, AUTH/CONT/OK/FAIL), over the UNIX socket named by
// smtpd_sasl_path (relative to $queue_directory, as Postfix resolves
// `private/auth`) or `inet:host:port`. Dovecot runs the mechanism itself, so
// every mechanism it offers (PLAIN, LOGIN, SCRAM-SHA-256, CRAM-MD5, ...) works.
// Touches: one socket per AUTH command, closed when the exchange ends.
import net from 'node:net';
import path from 'node:path';
import {
  AUTH_ABORTED,
  AUTH_FAILED,
  AUTH_TEMPFAIL,
  type MechanismInfo,
  type SaslBackend,
  type SaslExchange,
  type SaslOutcome,
} from './backend.js';

/** Longest line accepted from the auth server. */
const MAX_LINE = 65536;
/** How long to wait for the auth server (it delays failures on purpose, see auth_failure_delay). */
const SERVER_TIMEOUT_MS = 30_000;

class AuthConnection {
  private buf = '';
  private lines: string[] = [];
  private waiter: ((line: string | undefined) => void) | undefined;
  private closed = false;
  readonly socket: net.Socket;

  constructor(target: { path: string } | { host: string; port: number }) {
    this.socket = 'path' in target ? net.connect(target.path) : net.connect(target.port, target.host);
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
      if (this.buf.length > MAX_LINE) this.fail();
      this.wake();
    });
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
  }

  private fail(): void {
    this.closed = true;
    this.socket.destroy();
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.lines.length > 0) {
      this.waiter = undefined;
      w(this.lines.shift());
    } else if (this.closed) {
      this.waiter = undefined;
      w(undefined);
    }
  }

  /** The next line, or undefined when the server closed or timed out. */
  read(): Promise<string | undefined> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        this.fail();
        resolve(undefined);
      }, SERVER_TIMEOUT_MS);
      this.waiter = (l) => {
        clearTimeout(t);
        resolve(l);
      };
      this.wake();
    });
  }

  write(line: string): void {
    if (!this.closed) this.socket.write(`${line}\n`);
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/** Values must not contain the protocol's separators. */
function clean(v: string): string {
  return v.replace(/[\t\n\r]/g, ' ');
}

export class DovecotSaslBackend implements SaslBackend {
  private mechs: MechanismInfo[] = [];
  private first: Promise<void> | undefined;
  private nextId = 1;

  constructor(
    private readonly target: { path: string } | { host: string; port: number },
    private readonly warn: (text: string) => void,
  ) {}

  /** `smtpd_sasl_path`: `inet:host:port`, an absolute path, or one relative to $queue_directory. */
  static target(saslPath: string, queueDirectory: string): { path: string } | { host: string; port: number } {
    const m = /^inet:(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(saslPath);
    if (m) return { host: m[1] ?? m[2] ?? '127.0.0.1', port: Number(m[3]) };
    const p = saslPath.replace(/^unix:/, '');
    return { path: path.isAbsolute(p) ? p : path.join(queueDirectory, p) };
  }

  mechanisms(): readonly MechanismInfo[] {
    return this.mechs;
  }

  ready(): Promise<void> {
    this.first ??= this.handshake().then(
      (c) => c?.close(),
      () => undefined,
    );
    return this.first;
  }

  close(): void {}

  /** Open a connection and read the server's handshake; undefined (logged) when the server is unusable. */
  private async handshake(): Promise<AuthConnection | undefined> {
    const c = new AuthConnection(this.target);
    c.write('VERSION\t1\t2');
    c.write(`CPID\t${process.pid}`);
    const mechs: MechanismInfo[] = [];
    for (let i = 0; i < 1000; i++) {
      const line = await c.read();
      if (line === undefined) {
        this.warn(`SASL: Connect to ${this.describe()} failed: no valid response from the authentication server`);
        c.close();
        return undefined;
      }
      const [kind, ...f] = line.split('\t');
      if (kind === 'VERSION' && f[0] !== '1') {
        this.warn(`SASL: authentication server protocol version ${f[0] ?? '?'} is not supported`);
        c.close();
        return undefined;
      }
      if (kind === 'MECH' && f[0]) {
        const flags = new Set(f.slice(1));
        if (flags.has('private')) continue;
        mechs.push({
          name: f[0].toUpperCase(),
          plaintext: flags.has('plaintext'),
          anonymous: flags.has('anonymous'),
          dictionary: flags.has('dictionary'),
          mutualAuth: flags.has('mutual-auth'),
        });
      }
      if (kind === 'DONE') {
        this.mechs = mechs;
        return c;
      }
    }
    c.close();
    return undefined;
  }

  private describe(): string {
    return 'path' in this.target ? this.target.path : `inet:${this.target.host}:${this.target.port}`;
  }

  async authenticate(x: SaslExchange): Promise<SaslOutcome> {
    const c = await this.handshake();
    if (!c) return AUTH_TEMPFAIL('authentication server unavailable');
    try {
      if (!this.mechs.some((m) => m.name === x.mechanism)) return AUTH_FAILED('Invalid authentication mechanism');
      const id = this.nextId++;
      const cl = x.client;
      const fields = [
        'AUTH',
        String(id),
        x.mechanism,
        'service=smtp',
        'nologin',
        `lip=${clean(cl.localAddr)}`,
        `rip=${clean(cl.addr)}`,
        `lport=${cl.localPort}`,
        `rport=${cl.port}`,
      ];
      if (cl.tls) fields.push('secured');
      if (x.initial !== undefined) fields.push(`resp=${x.initial === '=' ? '' : clean(x.initial)}`);
      c.write(fields.join('\t'));
      // Bounded: a mechanism needs a handful of round trips.
      for (let round = 0; round < 20; round++) {
        const line = await c.read();
        if (line === undefined) return AUTH_TEMPFAIL('lost connection to the authentication server');
        const [kind, rid, ...rest] = line.split('\t');
        if (rid !== String(id)) continue;
        if (kind === 'OK') {
          const user = rest.find((r) => r.startsWith('user='))?.slice(5);
          return user ? { ok: true, username: user } : AUTH_TEMPFAIL('authentication server sent no user name');
        }
        if (kind === 'FAIL') {
          if (rest.includes('temp')) return AUTH_TEMPFAIL('authentication server temporary failure');
          const reason = rest.find((r) => r.startsWith('reason='))?.slice(7);
          return AUTH_FAILED(reason ?? 'authentication failure');
        }
        if (kind === 'CONT') {
          const resp = await x.challenge(rest[0] ?? '');
          if (resp === '*') return AUTH_ABORTED;
          c.write(`CONT\t${id}\t${clean(resp)}`);
          continue;
        }
      }
      return AUTH_TEMPFAIL('authentication exchange too long');
    } finally {
      c.close();
    }
  }
}
