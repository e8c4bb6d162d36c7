// A small SMTP client for the TLS tests: plaintext until STARTTLS (or TLS
// from the start for SMTPS), then the same reply reader over the TLS
// stream. Every wait is bounded.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

export class SmtpTestClient {
  private buf = '';
  private wake: (() => void) | undefined;
  closed = false;
  private constructor(public stream: net.Socket | tls.TLSSocket) {
    this.listen(stream);
  }

  private listen(s: net.Socket): void {
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      this.buf += d;
      this.wake?.();
    });
    s.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    s.on('error', () => undefined);
  }

  static plain(port: number): Promise<SmtpTestClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new SmtpTestClient(s)));
      s.once('error', reject);
    });
  }

  static smtps(port: number, opts: tls.ConnectionOptions = {}): Promise<SmtpTestClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...opts }, () =>
        resolve(new SmtpTestClient(s)),
      );
      s.once('error', reject);
    });
  }

  /** After `220 Ready to start TLS`: handshake over the same socket. */
  async starttls(opts: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    const raw = this.stream;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false, ...opts });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('handshake timeout')), 10_000);
      secure.once('secureConnect', () => {
        clearTimeout(t);
        resolve();
      });
      secure.once('error', (e: Error) => {
        clearTimeout(t);
        reject(e);
      });
    });
    this.buf = '';
    this.stream = secure;
    this.listen(secure);
    return secure;
  }

  send(text: string): void {
    this.stream.write(text);
  }

  async reply(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m[0].length);
        return m[0].replace(/\r\n/g, '\n').replace(/\n$/, '');
      }
      if (this.closed) return '';
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply; buffer ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          this.wake = undefined;
          r();
        };
      });
    }
  }

  async cmd(line: string): Promise<string> {
    this.send(`${line}\r\n`);
    return this.reply();
  }

  close(): void {
    this.stream.destroy();
  }
}

export function clientCertOpts(certFile: string, keyFile: string): tls.ConnectionOptions {
  return { cert: readFileSync(certFile), key: readFileSync(keyFile) };
}
