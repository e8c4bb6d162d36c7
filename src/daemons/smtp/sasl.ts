// SMTP AUTH on the client side (Postfix's SASL_README, "Enabling SASL
// authentication in the Postfix SMTP client"): credentials from
// `smtp_sasl_password_maps` (`user:password`, keyed by next hop or server
// name), mechanisms PLAIN and LOGIN filtered by `smtp_sasl_mechanism_filter`
// and the security options (`noplaintext` forbids both without TLS, or with
// TLS under `smtp_sasl_tls_security_options`). Passwords are never logged.
import type { ParamReader } from '../../global/params/types.js';
import type { SmtpConnection } from './connection.js';
import { paramName, type Protocol } from './settings.js';
import type { OpenDict } from './tls-policy.js';

export interface SaslSettings {
  readonly enabled: boolean;
  readonly passwordMaps: readonly string[];
  readonly mechanismFilter: readonly string[];
  readonly options: readonly string[];
  readonly tlsOptions: readonly string[];
  readonly softBounce: boolean;
}

export function readSaslSettings(cfg: ParamReader, protocol: Protocol): SaslSettings {
  const p = (s: string): string => paramName(protocol, s);
  const lower = (s: string): string[] => cfg.list(p(s)).map((x) => x.toLowerCase());
  return {
    enabled: cfg.bool(p('sasl_auth_enable')),
    passwordMaps: cfg.list(p('sasl_password_maps')),
    mechanismFilter: lower('sasl_mechanism_filter'),
    options: lower('sasl_security_options'),
    tlsOptions: lower('sasl_tls_security_options'),
    softBounce: cfg.bool(p('sasl_auth_soft_bounce')),
  };
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** The first `user:password` found for any of `keys` (next hop as written, server name, domain). */
export async function findCredentials(
  s: SaslSettings,
  keys: readonly string[],
  openDict: OpenDict | undefined,
): Promise<Credentials | undefined> {
  if (!openDict) return undefined;
  for (const spec of s.passwordMaps) {
    const dict = await openDict(spec);
    for (const key of keys) {
      const v = await dict.lookup(key);
      if (v === undefined) continue;
      const i = v.indexOf(':');
      return i < 0 ? { user: v, password: '' } : { user: v.slice(0, i), password: v.slice(i + 1) };
    }
  }
  return undefined;
}

/** Mechanisms we can and may use, best first. */
export function chooseMechanism(s: SaslSettings, offered: string, tls: boolean): 'PLAIN' | 'LOGIN' | undefined {
  const server = new Set(offered.toUpperCase().split(/\s+/));
  const options = tls ? s.tlsOptions : s.options;
  if (options.includes('noplaintext')) return undefined;
  for (const m of ['PLAIN', 'LOGIN'] as const) {
    if (!server.has(m)) continue;
    if (s.mechanismFilter.length && !s.mechanismFilter.includes(m.toLowerCase())) continue;
    return m;
  }
  return undefined;
}

export type AuthResult = { ok: true } | { ok: false; code: number; text: string };

/** Run the AUTH exchange; the caller turns a failure into Postfix's status text. */
export async function authenticate(
  conn: SmtpConnection,
  mech: 'PLAIN' | 'LOGIN',
  cred: Credentials,
  timeout: number,
): Promise<AuthResult> {
  const b64 = (t: string): string => Buffer.from(t, 'utf8').toString('base64');
  let r;
  if (mech === 'PLAIN') {
    await conn.write(`AUTH PLAIN ${b64(`\0${cred.user}\0${cred.password}`)}\r\n`, timeout);
    r = await conn.readReply(timeout);
  } else {
    await conn.write('AUTH LOGIN\r\n', timeout);
    r = await conn.readReply(timeout);
    for (const secret of [cred.user, cred.password]) {
      if (r.code !== 334) break;
      await conn.write(`${b64(secret)}\r\n`, timeout);
      r = await conn.readReply(timeout);
    }
  }
  return r.code === 235 ? { ok: true } : { ok: false, code: r.code, text: r.text };
}
