// check_policy_service: Postfix's policy delegation protocol (SMTPD_POLICY_README).
// smtpd sends `name=value` lines and an empty line over a unix or inet socket;
// the server answers `action=...` and an empty line, and the action is read as
// an access(5) value. Failures fall back to smtpd_policy_service_default_action
// (`451 4.3.5 Server configuration problem`) after the configured tries.
import { createConnection, type Socket } from 'node:net';
import { isAbsolute, join } from 'node:path';
import type { PolicyContext } from './context.js';
import { namaddr } from './replies.js';
import type { EvalState } from './types.js';

const MAX_RESPONSE = 16 * 1024;

export interface PolicyEndpoint {
  readonly spec: string;
  readonly timeoutMs: number;
  readonly defaultAction: string;
  readonly tryLimit: number;
  readonly policyContext: string;
}

/** `inet:host:port`, `unix:path`, or `{ inet:host:port, timeout=10s, default_action=DUNNO, ... }`. */
export function parseEndpoint(ctx: PolicyContext, arg: string): PolicyEndpoint {
  let spec = arg;
  const opts = new Map<string, string>();
  const braced = /^\{(.*)\}$/s.exec(arg.trim());
  if (braced) {
    const parts = (braced[1] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    spec = parts.shift() ?? '';
    for (const p of parts) {
      const eq = p.indexOf('=');
      if (eq > 0) opts.set(p.slice(0, eq).trim(), p.slice(eq + 1).trim());
    }
  }
  const seconds = (v: string | undefined, param: string): number => {
    const m = /^(\d+)([smh]?)$/.exec(v ?? '');
    if (!m) return ctx.config.time(param);
    return Number.parseInt(m[1] ?? '0', 10) * ({ s: 1, m: 60, h: 3600 }[m[2] || 's'] ?? 1);
  };
  return {
    spec,
    timeoutMs: seconds(opts.get('timeout'), 'smtpd_policy_service_timeout') * 1000,
    defaultAction: opts.get('default_action') ?? ctx.config.get('smtpd_policy_service_default_action'),
    tryLimit: Math.max(
      1,
      Number.parseInt(opts.get('try_limit') ?? ctx.config.get('smtpd_policy_service_try_limit'), 10) || 2,
    ),
    policyContext: opts.get('policy_context') ?? ctx.config.get('smtpd_policy_service_policy_context'),
  };
}

const STATE_NAMES: Record<EvalState['stage'], string> = {
  connect: 'CONNECT',
  helo: 'HELO',
  mail: 'MAIL',
  rcpt: 'RCPT',
  data: 'DATA',
  'end-of-data': 'END-OF-MESSAGE',
  etrn: 'ETRN',
  vrfy: 'VRFY',
};

/** RFC 3461 xtext, as Postfix encodes certificate names for the policy protocol. */
function xtext(v: string): string {
  let out = '';
  for (const b of Buffer.from(v, 'utf8')) {
    out +=
      b < 0x21 || b > 0x7e || b === 0x2b || b === 0x3d
        ? `+${b.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(b);
  }
  return out;
}

/** The request attributes of SMTPD_POLICY_README, in its order. */
export function policyRequest(ctx: PolicyContext, state: EvalState, ep: PolicyEndpoint): string {
  const f = state.facts;
  // With smtpd_delay_reject, early stages run at RCPT time; report the real protocol state.
  const where =
    f.recipient !== undefined && ['connect', 'helo', 'mail'].includes(state.stage) ? 'RCPT' : STATE_NAMES[state.stage];
  // Postfix counts recipients only once they are all known: at DATA and END-OF-MESSAGE.
  const count = where === 'DATA' || where === 'END-OF-MESSAGE' ? f.recipientCount : 0;
  // Certificate names only from a verified certificate; fingerprints from any.
  const cert = f.tlsCert;
  const trusted = cert?.verified === true;
  const tls = f.tlsSession;
  const attrs: [string, string][] = [
    ['request', 'smtpd_access_policy'],
    ['protocol_state', where],
    ['protocol_name', f.esmtp ? 'ESMTP' : 'SMTP'],
    ['helo_name', f.helo ?? ''],
    ['queue_id', f.queueId ?? ''],
    ['sender', f.sender ?? ''],
    ['recipient', f.recipient ?? ''],
    ['recipient_count', String(count)],
    ['client_address', f.clientAddr],
    ['client_name', f.clientName],
    ['client_port', String(f.clientPort)],
    ['reverse_client_name', f.reverseClientName],
    ['server_address', f.serverAddr],
    ['server_port', String(f.serverPort)],
    ['instance', `${namaddr(f, ctx.config)}.${f.sender ?? ''}`],
    ['sasl_method', f.saslMethod ?? ''],
    ['sasl_username', f.saslUsername ?? ''],
    ['sasl_sender', f.saslSender ?? ''],
    ['size', String(f.size ?? 0)],
    ['ccert_subject', trusted && cert.subjectCN ? xtext(cert.subjectCN) : ''],
    ['ccert_issuer', trusted && cert.issuerCN ? xtext(cert.issuerCN) : ''],
    ['ccert_fingerprint', cert?.fingerprint ?? ''],
    ['ccert_pubkey_fingerprint', cert?.pubkeyFingerprint ?? ''],
    ['encryption_protocol', tls?.protocol ?? ''],
    ['encryption_cipher', tls?.cipher ?? ''],
    ['encryption_keysize', String(tls?.bits ?? 0)],
    ['etrn_domain', f.etrnDomain ?? ''],
    ['stress', ''],
    ['policy_context', ep.policyContext],
    ['compatibility_level', ctx.config.get('compatibility_level')],
    ['mail_version', ctx.config.get('mail_version')],
  ];
  // A newline inside a value would let the client inject attributes.
  return attrs.map(([k, v]) => `${k}=${v.replace(/[\r\n]/g, ' ')}\n`).join('') + '\n';
}

/**
 * Idle connections by endpoint: policy servers expect smtpd to keep a
 * connection open between requests (smtpd_policy_service_max_idle). An idle
 * socket is unref'd so it never keeps the process alive.
 */
const idle = new Map<string, Socket>();

function connect(ctx: PolicyContext, spec: string): Socket {
  const m = /^inet:(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(spec);
  if (m) return createConnection({ host: m[1] ?? m[2] ?? '127.0.0.1', port: Number.parseInt(m[3] ?? '0', 10) });
  let path = spec.replace(/^unix:/, '');
  if (!isAbsolute(path)) path = join(ctx.config.get('queue_directory'), path);
  return createConnection({ path });
}

function park(ctx: PolicyContext, spec: string, sock: Socket): void {
  if (idle.has(spec) || sock.destroyed) {
    sock.destroy();
    return;
  }
  sock.removeAllListeners('data');
  sock.removeAllListeners('end');
  sock.removeAllListeners('timeout');
  sock.setTimeout(ctx.config.time('smtpd_policy_service_max_idle') * 1000, () => {
    if (idle.get(spec) === sock) idle.delete(spec);
    sock.destroy();
  });
  // A server that closes an idle connection just loses it from the pool.
  sock.once('close', () => {
    if (idle.get(spec) === sock) idle.delete(spec);
  });
  sock.unref();
  idle.set(spec, sock);
}

/** One request/response on a socket; resolves with the action text, or rejects on any trouble. */
function exchange(sock: Socket, timeoutMs: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let done = false;
    const finish = (err: string | undefined, action?: string) => {
      if (done) return;
      done = true;
      sock.removeListener('error', onError);
      if (err !== undefined) {
        sock.destroy();
        reject(new Error(err));
      } else resolve(action ?? '');
    };
    const onError = (e: Error) => finish(e.message);
    sock.ref();
    sock.setEncoding('utf8');
    sock.on('error', onError);
    sock.setTimeout(timeoutMs, () => finish('timeout'));
    sock.on('end', () => finish('connection closed before the response ended'));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_RESPONSE) return finish('response too long');
      const end = buf.indexOf('\n\n');
      if (end < 0) return;
      const action = buf
        .slice(0, end)
        .split('\n')
        .find((l) => l.startsWith('action='));
      if (action === undefined) return finish('response without action= attribute');
      finish(undefined, action.slice('action='.length).trim());
    });
    sock.write(request);
  });
}

/** Ask the server, on an idle connection when there is one; a stale idle connection is replaced once. */
export async function askPolicyServer(ctx: PolicyContext, ep: PolicyEndpoint, request: string): Promise<string> {
  const reused = idle.get(ep.spec);
  idle.delete(ep.spec);
  if (reused && !reused.destroyed) {
    try {
      const action = await exchange(reused, ep.timeoutMs, request);
      park(ctx, ep.spec, reused);
      return action;
    } catch {
      // The server dropped the idle connection; that is not a failed try.
    }
  }
  const sock = connect(ctx, ep.spec);
  const action = await exchange(sock, ep.timeoutMs, request);
  park(ctx, ep.spec, sock);
  return action;
}

/** The action to apply: the server's, or the default action after tryLimit failures. */
export async function policyAction(ctx: PolicyContext, state: EvalState, arg: string): Promise<string> {
  const ep = parseEndpoint(ctx, arg);
  const request = policyRequest(ctx, state, ep);
  for (let attempt = 1; attempt <= ep.tryLimit; attempt++) {
    try {
      return await askPolicyServer(ctx, ep, request);
    } catch (e) {
      ctx.logger.warning(`problem talking to server ${ep.spec}: ${(e as Error).message}`);
    }
  }
  return ep.defaultAction;
}
