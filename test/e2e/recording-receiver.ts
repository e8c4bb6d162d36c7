// A recording SMTP receiver for end-to-end tests: a real server on a loopback
// port that accepts mail the way a remote MTA would and records each envelope
// and message, so a test can check exactly what Postern's smtp client sent.
// Recipients matching `rejectRcpt` get a permanent 550 (to provoke bounces).
import { createServer, type Server, type Socket } from 'node:net';

export interface ReceivedMessage {
  readonly helo: string;
  readonly mailFrom: string;
  readonly rcptTo: string[];
  readonly data: string;
}

export interface ReceiverOptions {
  readonly rejectRcpt?: RegExp;
  /** Accept connections but send no greeting (a stalled server) until release(). */
  readonly hold?: boolean;
  readonly host?: string;
  /** Called when message N (0-based) has been received; the 250 waits for it (a slow sink the test controls). */
  readonly beforeDataReply?: (index: number) => Promise<void> | undefined;
}

/** Per-connection input bound: a misbehaving client cannot grow memory without limit. */
const MAX_BUFFER = 4 * 1024 * 1024;

export class RecordingReceiver {
  readonly messages: ReceivedMessage[] = [];
  /** Every command line received (the first 10,000), so a test can see what was sent without DATA. */
  readonly commands: string[] = [];
  private waiters: (() => void)[] = [];
  private readonly sockets = new Set<Socket>();
  private holding: boolean;
  private readonly held: Socket[] = [];
  /** Connections accepted so far, held ones included. */
  connections = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly opts: ReceiverOptions,
  ) {
    this.holding = opts.hold ?? false;
    server.on('connection', (s) => {
      this.connections++;
      for (const w of this.waiters.splice(0)) w();
      if (this.holding) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        this.held.push(s);
      } else this.serve(s);
    });
  }

  /** Stop stalling: held connections are dropped, new ones are served. */
  release(): void {
    this.holding = false;
    for (const s of this.held.splice(0)) s.destroy();
  }

  /** Waits until at least `count` connections have arrived. */
  async waitForConnections(count: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.connections < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`receiver saw ${this.connections} of ${count} connections within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  static async start(opts: ReceiverOptions = {}): Promise<RecordingReceiver> {
    const server = createServer();
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    return new RecordingReceiver(server, port, opts);
  }

  /** Waits until `count` messages have arrived; fails with what did arrive. */
  async waitFor(count: number, timeoutMs = 20_000): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`receiver got ${this.messages.length} of ${count} messages within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.messages.slice(0, count);
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setEncoding('latin1');
    const say = (line: string): void => {
      if (!socket.destroyed) socket.write(`${line}\r\n`);
    };
    let buffer = '';
    let helo = '';
    let mailFrom: string | undefined;
    let rcptTo: string[] = [];
    let data: string[] | undefined;
    say('220 receiver.test ESMTP recording receiver');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_BUFFER) {
        socket.destroy();
        return;
      }
      for (let i = buffer.indexOf('\r\n'); i >= 0; i = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (data) {
          if (line === '.') {
            this.messages.push({ helo, mailFrom: mailFrom ?? '', rcptTo, data: data.join('\r\n') + '\r\n' });
            const n = this.messages.length;
            for (const w of this.waiters.splice(0)) w();
            const gate = this.opts.beforeDataReply?.(n - 1);
            if (gate) {
              // Lines the client sends meanwhile are not read until the reply is out.
              socket.pause();
              void gate.finally(() => {
                say(`250 2.0.0 Ok: queued as REC${n}`);
                socket.resume();
              });
            } else say(`250 2.0.0 Ok: queued as REC${n}`);
            data = undefined;
            mailFrom = undefined;
            rcptTo = [];
          } else data.push(line.startsWith('.') ? line.slice(1) : line);
          continue;
        }
        if (this.commands.length < 10_000) this.commands.push(line);
        const verb = line.slice(0, 4).toUpperCase();
        const arg = /<([^>]*)>/.exec(line)?.[1] ?? '';
        if (verb === 'EHLO') {
          helo = line.slice(5);
          say('250-receiver.test');
          say('250 8BITMIME');
        } else if (verb === 'HELO') {
          helo = line.slice(5);
          say('250 receiver.test');
        } else if (verb === 'MAIL') {
          mailFrom = arg;
          rcptTo = [];
          say('250 2.1.0 Ok');
        } else if (verb === 'RCPT') {
          if (this.opts.rejectRcpt?.test(arg)) say(`550 5.1.1 <${arg}>: Recipient address rejected: no such user`);
          else {
            rcptTo.push(arg);
            say('250 2.1.5 Ok');
          }
        } else if (verb === 'DATA') {
          if (rcptTo.length === 0) say('554 5.5.1 Error: no valid recipients');
          else {
            data = [];
            say('354 End data with <CR><LF>.<CR><LF>');
          }
        } else if (verb === 'RSET') {
          mailFrom = undefined;
          rcptTo = [];
          say('250 2.0.0 Ok');
        } else if (verb === 'NOOP') say('250 2.0.0 Ok');
        else if (verb === 'QUIT') {
          say('221 2.0.0 Bye');
          socket.end();
        } else say('502 5.5.2 Error: command not recognized');
      }
    });
  }
}
