// smtpd(8)'s SASL glue (SASL_README "Enabling SASL authentication in the
// Postfix SMTP server"): picks the backend from smtpd_sasl_type, filters the
// mechanisms by smtpd_sasl_security_options / smtpd_sasl_tls_security_options
// and smtpd_sasl_mechanism_filter, hides AUTH before TLS under
// smtpd_tls_auth_only, limits AUTH commands per client
// (smtpd_client_auth_rate_limit) and logs failures without the payload.
import type { Logger } from '../../../global/log/logger.js';
import type { ParamReader } from '../../../global/params/types.js';
import type { Dict } from '../../../global/dict/dict-api.js';
import type { SmtpReply } from '../../../global/smtp/reply.js';
import type { AuthClient, AuthHook } from '../types.js';
import type { MechanismInfo, SaslBackend, SaslOutcome } from './backend.js';
import { DovecotSaslBackend } from './dovecot-backend.js';
import { PosternSaslBackend } from './postern-backend.js';

export type OpenDict = (spec: string) => Promise<Dict>;

export class SaslConfigError extends Error {
  override name = 'SaslConfigError';
}

export interface SmtpdAuth extends AuthHook {
  /** Resolves when the backend's mechanism list is known (Dovecot). */
  ready(): Promise<void>;
  reload(config: ParamReader): void;
  close(): void;
}

interface Options {
  readonly plain: ReadonlySet<string>;
  readonly tls: ReadonlySet<string>;
  readonly filter: readonly string[];
  readonly authOnly: boolean;
  readonly rateLimit: number;
  readonly rateWindowMs: number;
}

const KNOWN_OPTIONS = new Set([
  'noanonymous',
  'noplaintext',
  'nodictionary',
  'noactive',
  'mutual_auth',
  'forward_secrecy',
]);

function securityOptions(config: ParamReader, name: string, warn: (t: string) => void): Set<string> {
  const out = new Set<string>();
  for (const o of config.list(name).map((x) => x.toLowerCase())) {
    if (KNOWN_OPTIONS.has(o)) out.add(o);
    else warn(`unknown ${name} value: "${o}"`);
  }
  return out;
}

function readOptions(config: ParamReader, warn: (t: string) => void): Options {
  return {
    plain: securityOptions(config, 'smtpd_sasl_security_options', warn),
    tls: securityOptions(config, 'smtpd_sasl_tls_security_options', warn),
    filter: config.list('smtpd_sasl_mechanism_filter').map((x) => x.toLowerCase()),
    authOnly: config.bool('smtpd_tls_auth_only'),
    rateLimit: config.int('smtpd_client_auth_rate_limit'),
    rateWindowMs: config.time('anvil_rate_time_unit') * 1000,
  };
}

/** smtpd_sasl_mechanism_filter: `!name` excludes; plain names (if any) are the only ones kept. */
function passesFilter(name: string, filter: readonly string[]): boolean {
  const lower = name.toLowerCase();
  if (filter.includes(`!${lower}`)) return false;
  const positive = filter.filter((f) => !f.startsWith('!') && !f.includes(':'));
  const rest = filter.some((f) => f.includes(':'));
  return positive.length === 0 || rest || positive.includes(lower);
}

function allowed(m: MechanismInfo, opts: ReadonlySet<string>): boolean {
  if (opts.has('noplaintext') && m.plaintext) return false;
  if (opts.has('noanonymous') && m.anonymous) return false;
  if (opts.has('nodictionary') && m.dictionary) return false;
  if (opts.has('mutual_auth') && !m.mutualAuth) return false;
  return true;
}

function makeBackend(config: ParamReader, openDict: OpenDict | undefined, logger: Logger): SaslBackend {
  const type = config.get('smtpd_sasl_type').trim().toLowerCase();
  const saslPath = config.get('smtpd_sasl_path').trim();
  const warn = (t: string): void => logger.warning(t);
  if (type === 'dovecot') {
    return new DovecotSaslBackend(DovecotSaslBackend.target(saslPath, config.get('queue_directory')), warn);
  }
  if (type === 'postern') {
    const tables = config.list('smtpd_sasl_path');
    if (tables.length === 0 || tables.some((t) => !t.includes(':'))) {
      throw new SaslConfigError(
        `smtpd_sasl_type = postern needs smtpd_sasl_path = type:table of users and password hashes, not "${saslPath}"`,
      );
    }
    if (!openDict) throw new SaslConfigError('smtpd_sasl_type = postern: no lookup table support');
    return new PosternSaslBackend(tables, openDict, warn, config.get('smtpd_sasl_local_domain').trim());
  }
  throw new SaslConfigError(`unsupported SASL server implementation: ${type} (use dovecot or postern)`);
}

/** Per-address AUTH command counts in fixed windows of anvil_rate_time_unit (what anvil(8) does). */
class AuthRate {
  private counts = new Map<string, { start: number; n: number }>();
  bump(addr: string, windowMs: number, now = Date.now()): number {
    let e = this.counts.get(addr);
    if (!e || now - e.start >= windowMs) {
      e = { start: now, n: 0 };
      if (this.counts.size > 10000) this.sweep(windowMs, now);
      this.counts.set(addr, e);
    }
    return ++e.n;
  }
  private sweep(windowMs: number, now: number): void {
    for (const [k, v] of this.counts) if (now - v.start >= windowMs) this.counts.delete(k);
  }
}

export function createSmtpdAuth(config: ParamReader, openDict: OpenDict | undefined, logger: Logger): SmtpdAuth {
  let opts = readOptions(config, (t) => logger.warning(t));
  let backend = makeBackend(config, openDict, logger);
  void backend.ready();
  const rate = new AuthRate();
  const service = config.get('process_name') || 'smtp';

  function offered(tls: boolean): MechanismInfo[] {
    if (opts.authOnly && !tls) return [];
    const sec = tls ? opts.tls : opts.plain;
    return backend.mechanisms().filter((m) => allowed(m, sec) && passesFilter(m.name, opts.filter));
  }

  const fail = (r: SmtpReply): { reply: SmtpReply } => ({ reply: r });

  return {
    ready: () => backend.ready(),
    close: () => backend.close(),
    reload(next: ParamReader): void {
      try {
        opts = readOptions(next, (t) => logger.warning(t));
        const b = makeBackend(next, openDict, logger);
        backend.close();
        backend = b;
        void backend.ready();
      } catch (e) {
        logger.warning(`SASL configuration not reloaded: ${(e as Error).message}`);
      }
    },
    mechanisms: (tls) => offered(tls).map((m) => m.name),
    tlsRequired: (tls) => opts.authOnly && !tls,
    async authenticate(mechanism, initial, challenge, client?: AuthClient) {
      const c = client ?? { namaddr: 'unknown[unknown]', addr: '', port: 0, localAddr: '', localPort: 0, tls: false };
      if (opts.rateLimit > 0) {
        const n = rate.bump(c.addr, opts.rateWindowMs);
        if (n > opts.rateLimit) {
          logger.warning(`AUTH command rate limit exceeded: ${n} from ${c.namaddr} for service ${service}`);
          return fail({ code: 450, dsn: '4.7.1', text: `Error: too many AUTH commands from ${c.addr}` });
        }
      }
      if (!offered(c.tls).some((m) => m.name === mechanism)) {
        logger.warning(`${c.namaddr}: SASL ${mechanism} authentication failed: Invalid authentication mechanism`);
        return fail({
          code: 535,
          dsn: '5.7.8',
          text: 'Error: authentication failed: Invalid authentication mechanism',
        });
      }
      let out: SaslOutcome;
      try {
        out = await backend.authenticate({ mechanism, initial, challenge, client: c });
      } catch (e) {
        logger.warning(`${c.namaddr}: SASL ${mechanism} authentication failed: ${(e as Error).message}`);
        return fail({ code: 454, dsn: '4.7.0', text: 'Temporary authentication failure' });
      }
      if (out.ok) return { username: out.username };
      logger.warning(`${c.namaddr}: SASL ${mechanism} authentication failed: ${out.reason}`);
      return fail(out.reply);
    },
  };
}
