// SMTP AUTH on the client side (Postfix's SASL_README, "Enabling SASL
// authentication in the Postfix SMTP client"): credentials from
// `smtp_sasl_password_maps` (`user:password`, keyed by the sender when
// `smtp_sender_dependent_authentication` is on, then by server name, then
// by next hop), mechanisms SCRAM-SHA-256/-1 (scram.ts), PLAIN and LOGIN
// filtered by `smtp_sasl_mechanism_filter` and the security options
// (`noplaintext` forbids PLAIN and LOGIN without TLS, or with
// TLS under `smtp_sasl_tls_security_options`). Passwords are never logged.
import type { ParamReader } from '../../global/params/types.js';
import type { SmtpConnection } from './connection.js';
import { addressKeys, type LocalDomains } from './addr-keys.js';
import { scramLogin, type ScramMechanism } from './scram.js';
import { paramName, type Protocol } from './settings.js';
import type { OpenDict } from './tls-policy.js';

export interface SaslSettings {
  readonly enabled: boolean;
  readonly passwordMaps: readonly string[];
  readonly mechanismFilter: readonly string[];
  readonly options: readonly string[];
  readonly tlsOptions: readonly string[];
  /** smtp_sasl_tls_verified_security_options: for sessions whose server certificate was verified. */
  readonly verifiedOptions: readonly string[];
  readonly softBounce: boolean;
  /** smtp_sender_dependent_authentication: the sender's own credentials come first. */
  readonly senderDependent: boolean;
  readonly delimiters: string;
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
    verifiedOptions: lower('sasl_tls_verified_security_options'),
    softBounce: cfg.bool(p('sasl_auth_soft_bounce')),
    senderDependent: cfg.bool(p('sender_dependent_authentication')),
    delimiters: cfg.get('recipient_delimiter'),
  };
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/**
 * The credentials for one server, in Postfix's order: the envelope sender
 * (address keys as generic(5), only with sender-dependent authentication and
 * a non-null sender), then each of `keys` (server name, next hop as written).
 * The first table that answers a key wins; a failing table throws DictRetryError.
 */
export async function findCredentials(
  s: SaslSettings,
  sender: string,
  keys: readonly string[],
  openDict: OpenDict | undefined,
  localDomains: LocalDomains | undefined,
): Promise<Credentials | undefined> {
  if (!openDict) return undefined;
  const dicts = await Promise.all(s.passwordMaps.map((spec) => openDict(spec)));
  const find = async (key: string): Promise<string | undefined> => {
    for (const d of dicts) {
      const v = await d.lookup(key);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  let value: string | undefined;
  if (s.senderDependent && sender !== '' && localDomains) {
    for (const k of await addressKeys(sender, s.delimiters, localDomains)) {
      if ((value = await find(k.key)) !== undefined) break;
    }
  }
  for (const key of keys) {
    if (value !== undefined) break;
    value = await find(key);
  }
  if (value === undefined) return undefined;
  const i = value.indexOf(':');
  return i < 0 ? { user: value, password: '' } : { user: value.slice(0, i), password: value.slice(i + 1) };
}

export type Mechanism = ScramMechanism | 'PLAIN' | 'LOGIN';

/** The session's protection when AUTH is sent. */
export type TlsState = 'none' | 'tls' | 'verified';

/**
 * The best mechanism we can and may use: SCRAM (the password stays secret,
 * so `noplaintext` allows it) before PLAIN and LOGIN.
 */
export function chooseMechanism(s: SaslSettings, offered: string, tls: TlsState): Mechanism | undefined {
  const server = new Set(offered.toUpperCase().split(/\s+/));
  const options = tls === 'verified' ? s.verifiedOptions : tls === 'tls' ? s.tlsOptions : s.options;
  const plaintextOk = !options.includes('noplaintext');
  for (const m of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN', 'LOGIN'] as const) {
    if (!server.has(m)) continue;
    if ((m === 'PLAIN' || m === 'LOGIN') && !plaintextOk) continue;
    if (!filterAllows(s.mechanismFilter, m)) continue;
    return m;
  }
  return undefined;
}

/**
 * smtp_sasl_mechanism_filter as a Postfix match list: the first item that
 * names the mechanism decides (`!name` excludes it); a `static:` table
 * matches every mechanism (the documented `!gssapi, static:rest` idiom);
 * a mechanism no item names is filtered out. Empty: everything is allowed.
 */
export function filterAllows(filter: readonly string[], mech: string): boolean {
  if (filter.length === 0) return true;
  for (const item of filter) {
    const negated = item.startsWith('!');
    const name = negated ? item.slice(1) : item;
    if (name.startsWith('static:') || name === mech.toLowerCase()) return !negated;
  }
  return false;
}

export type AuthResult = { ok: true } | { ok: false; code: number; text: string };

/** Run the AUTH exchange; the caller turns a failure into Postfix's status text. */
export async function authenticate(
  conn: SmtpConnection,
  mech: Mechanism,
  cred: Credentials,
  timeout: number,
): Promise<AuthResult> {
  if (mech === 'SCRAM-SHA-256' || mech === 'SCRAM-SHA-1') return scramLogin(conn, mech, cred, timeout);
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
