// Test harness for smtpd: a real server on 127.0.0.1 port 0, an in-memory
// CleanupService double that records what was committed, a configurable
// policy, a fake resolver, and a raw-socket client that reads whole
// (multi-line) replies with a bounded wait.
import net from 'node:net';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import type {
  CleanupOpenRequest,
  CleanupPolicyActions,
  CleanupService,
  CleanupTransaction,
  CleanupVerdict,
  EnvelopeRecipient,
} from '../../src/global/queue/cleanup-api.js';
import type { PolicyVerdict, RestrictionStage, SessionFacts, SmtpdPolicy } from '../../src/daemons/smtpd/policy-api.js';
import { createSmtpd, type SmtpdDeps, type SmtpdServer } from '../../src/daemons/smtpd/smtpd.js';
import type { PeerResolver } from '../../src/daemons/smtpd/peer.js';

export interface RecordedMessage {
  readonly queueId: string;
  readonly req: CleanupOpenRequest;
  readonly recipients: EnvelopeRecipient[];
  chunks: Buffer[];
  state: 'open' | 'committed' | 'aborted';
  /** The policy actions smtpd handed to commit(). */
  actions?: CleanupPolicyActions;
}

export class MemoryCleanup implements CleanupService {
  readonly messages: RecordedMessage[] = [];
  private seq = 0;
  /** Set to make commit() refuse the message. */
  commitVerdict: ((m: RecordedMessage) => CleanupVerdict) | undefined;

  open(req: CleanupOpenRequest): Promise<CleanupTransaction> {
    const queueId = `4Q${(++this.seq).toString(16).toUpperCase().padStart(8, '0')}`;
    const m: RecordedMessage = { queueId, req, recipients: [], chunks: [], state: 'open' };
    this.messages.push(m);
    const verdictFor = (): CleanupVerdict => this.commitVerdict?.(m) ?? { status: 'queued', queueId };
    return Promise.resolve({
      queueId,
      addRecipient(r: EnvelopeRecipient) {
        m.recipients.push(r);
      },
      write(lines: Buffer) {
        m.chunks.push(Buffer.from(lines));
      },
      commit(actions?: CleanupPolicyActions) {
        m.state = 'committed';
        if (actions) m.actions = actions;
        return Promise.resolve(verdictFor());
      },
      abort() {
        m.state = 'aborted';
        return Promise.resolve();
      },
    });
  }

  committed(): RecordedMessage[] {
    return this.messages.filter((m) => m.state === 'committed');
  }
}

export function content(m: RecordedMessage): string {
  return Buffer.concat(m.chunks).toString('utf8');
}

export type PolicyFn = (stage: RestrictionStage, facts: SessionFacts) => PolicyVerdict | undefined;

export class TestPolicy implements SmtpdPolicy {
  readonly calls: { stage: RestrictionStage; facts: SessionFacts }[] = [];
  constructor(public fn: PolicyFn = () => undefined) {}
  check(stage: RestrictionStage, facts: SessionFacts): Promise<PolicyVerdict> {
    this.calls.push({ stage, facts });
    return Promise.resolve(this.fn(stage, facts) ?? { action: 'dunno' });
  }
}

/** Reverse and forward maps; anything else does not resolve. */
export function fakeResolver(ptr: Record<string, string[]>, forward: Record<string, string[]>): PeerResolver {
  return {
    reverse: (addr) => (ptr[addr] ? Promise.resolve(ptr[addr]) : Promise.reject(new Error('ENOTFOUND'))),
    forward: (name) => (forward[name] ? Promise.resolve(forward[name]) : Promise.reject(new Error('ENOTFOUND'))),
  };
}

export const BASE_MAIN_CF = [
  'myhostname = mx.example.test',
  'smtpd_error_sleep_time = 0',
  'smtpd_forbid_bare_newline_exclusions =',
  'smtpd_client_event_limit_exceptions =',
  // As in the stock main.cf, which enables SMTPUTF8.
  'compatibility_level = 3.6',
].join('\n');

export interface Harness {
  readonly port: number;
  readonly logger: MemoryLogger;
  readonly cleanup: MemoryCleanup;
  readonly policy: TestPolicy;
  readonly smtpd: SmtpdServer;
  close(): Promise<void>;
  logs(): string[];
}

export async function startSmtpd(
  mainCf = '',
  opts: { policy?: PolicyFn; resolver?: PeerResolver; extra?: Partial<SmtpdDeps>; host?: string } = {},
): Promise<Harness> {
  const config = Config.fromText(`${BASE_MAIN_CF}\n${mainCf}\n`);
  const logger = new MemoryLogger('postfix/smtpd');
  const cleanup = new MemoryCleanup();
  const policy = new TestPolicy(opts.policy);
  const smtpd = createSmtpd({
    config,
    logger,
    cleanup,
    policy,
    resolver: opts.resolver ?? fakeResolver({ '127.0.0.1': ['localhost'] }, { localhost: ['127.0.0.1'] }),
    ...opts.extra,
  });
  const server = net.createServer();
  smtpd.attach(server);
  // A failed assertion must not leave the test process waiting on open sockets.
  server.unref();
  server.on('connection', (s: net.Socket) => s.unref());
  await new Promise<void>((r) => server.listen(0, opts.host ?? '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    logger,
    cleanup,
    policy,
    smtpd,
    logs: () => logger.texts(),
    close: async () => {
      server.close();
      for (const c of RawClient.open) c.close();
      // Let sessions log their disconnect lines.
      for (let i = 0; i < 100 && smtpd.sessionCount() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    },
  };
}

/** A raw SMTP client: write bytes, read complete replies. */
export class RawClient {
  /** Every client not yet closed, so a failed test cannot leave sockets open. */
  static readonly open = new Set<RawClient>();
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.wakeAll();
    });
    RawClient.open.add(this);
    socket.unref();
    socket.on('close', () => {
      RawClient.open.delete(this);
      this.closed = true;
      this.wakeAll();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next complete reply (all its lines joined with \n), or '' when the server closed. */
  async reply(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m[0].length);
        return m[0].replace(/\r\n/g, '\n').replace(/\n$/, '');
      }
      if (this.closed) return '';
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs}ms; buffer: ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Send one line (CRLF added) and return the reply. */
  async cmd(line: string): Promise<string> {
    this.send(`${line}\r\n`);
    return this.reply();
  }

  /** Wait for the server to close the connection. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Poll `cond` (bounded) until it holds, for log lines written after a reply. */
export async function eventually(cond: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
