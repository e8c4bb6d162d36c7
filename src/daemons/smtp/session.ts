// Opening an SMTP/LMTP session with one server: connect, greeting,
// EHLO/HELO/LHLO, STARTTLS per the TLS policy, XFORWARD. Each failure comes
// back as a SessionFailure worded as Postfix logs it; `soft` failures let
// the caller try the next MX host.
import type { Logger } from '../../global/log/logger.js';
import type { DeliveryRequest } from '../../global/queue/delivery-api.js';
import { ConnectError, SessionError, SmtpConnection, type ServerReply } from './connection.js';
import type { Candidate } from './resolve.js';
import type { ClientSettings } from './settings.js';
import { tlsaMatches } from './dane.js';
import { fingerprintMatches } from './fingerprint.js';
import { authenticate, chooseMechanism, type Credentials, type SaslSettings, type TlsState } from './sasl.js';
import { describeTls, handshakeOptions, judgePeer, requiresTls, verifiesPeer, type TlsPolicy } from './tls-policy.js';

export interface SessionFailure {
  /** Temporary for this server: another server may do better. */
  readonly soft: boolean;
  /** What failed, where it changes the caller's next step (relay=none, plaintext retry). */
  readonly kind?: 'connect' | 'tls-handshake';
  readonly dsn: string;
  readonly reason: string;
  readonly remoteReply?: string;
}

export interface Session {
  readonly conn: SmtpConnection;
  readonly candidate: Candidate;
  /** `host[addr]` as used in `host X said:`. */
  readonly label: string;
  /** `host[addr]:port` for `relay=`. */
  readonly relay: string;
  /** EHLO keywords (upper case) with their parameters. */
  readonly features: ReadonlyMap<string, string>;
  readonly esmtp: boolean;
  readonly greetingName: string;
}

export function labelOf(c: Candidate): string {
  return `${c.hostname}[${c.address}]`;
}

export function relayOf(c: Candidate): string {
  return c.unix ? labelOf(c) : `${labelOf(c)}:${c.port}`;
}

/** `lost connection with X while ...` / `conversation with X timed out while ...`. */
export function sessionErrorText(e: SessionError, label: string, stage: string): string {
  if (e.kind === 'timeout') return `conversation with ${label} timed out while ${stage}`;
  if (e.kind === 'protocol') return `malformed reply from ${label} while ${stage}`;
  return `lost connection with ${label} while ${stage}`;
}

export function replyFailure(r: ServerReply, label: string, command: string, soft = r.code < 500): SessionFailure {
  return {
    soft,
    dsn: r.dsn,
    reason: `host ${label} said: ${r.text} (in reply to ${command} command)`,
    remoteReply: r.text,
  };
}

export class SessionAbort extends Error {
  override name = 'SessionAbort';
  constructor(readonly failure: SessionFailure) {
    super(failure.reason);
  }
}

export interface OpenOptions {
  readonly settings: ClientSettings;
  readonly tls: TlsPolicy;
  readonly nexthopDomain: string;
  readonly log: Logger;
  readonly req: DeliveryRequest;
  /** Set when a `may` handshake failed on this server: retry in plaintext. */
  readonly plaintextOnly?: boolean;
  /** SMTP AUTH settings and the credentials found for this server, if any. */
  readonly sasl?: { readonly settings: SaslSettings; readonly credentials: Credentials | undefined };
}

/** Open and prepare a session, or throw SessionAbort. */
export async function openSession(c: Candidate, o: OpenOptions): Promise<Session> {
  const s = o.settings;
  const label = labelOf(c);
  let conn: SmtpConnection;
  try {
    const localAddress = c.unix ? '' : c.address.includes(':') ? s.bindAddress6 : s.bindAddress;
    conn = await SmtpConnection.connect(
      { address: c.address, port: c.port, unix: c.unix, ...(localAddress ? { localAddress } : {}) },
      s.connectTimeout,
    );
  } catch (e) {
    const where = c.unix ? c.address : `${label}:${c.port}`;
    throw new SessionAbort({
      soft: true,
      kind: 'connect',
      dsn: '4.4.1',
      reason: `connect to ${where}: ${(e as ConnectError).message}`,
    });
  }
  try {
    return await handshake(conn, c, o);
  } catch (e) {
    conn.close();
    throw e;
  }
}

async function step<T>(label: string, stage: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof SessionError) {
      throw new SessionAbort({ soft: true, dsn: '4.4.2', reason: sessionErrorText(e, label, stage) });
    }
    throw e;
  }
}

async function handshake(conn: SmtpConnection, c: Candidate, o: OpenOptions): Promise<Session> {
  const s = o.settings;
  const label = labelOf(c);
  const greeting = await step(label, 'receiving the initial server greeting', () => conn.readReply(s.heloTimeout));
  if (greeting.code !== 220) {
    // smtp_skip_5xx_greeting: a 5xx banner makes us try the next server, not bounce.
    const soft = greeting.code < 500 || s.skip5xxGreeting;
    const dsn = soft ? `4${greeting.dsn.slice(1)}` : greeting.dsn;
    throw new SessionAbort({
      soft,
      dsn,
      reason: `host ${label} refused to talk to me: ${greeting.text}`,
      remoteReply: greeting.text,
    });
  }
  const greetingName = (greeting.lines[0] ?? '').slice(4).split(/\s+/)[0] ?? '';
  const lmtp = s.protocol === 'lmtp';
  const useEhlo = lmtp || (!s.neverSendEhlo && (s.alwaysSendEhlo || /ESMTP/i.test(greeting.text)));
  let { features, esmtp } = await hello(conn, label, s, useEhlo);
  // What SASL's security options depend on: no TLS, TLS, or TLS with a verified peer.
  let tlsState: TlsState = 'none';

  const policy = o.tls;
  const wantTls = policy.level !== 'none' && !o.plaintextOnly;
  if (wantTls && !features.has('STARTTLS')) {
    if (policy.sts?.mode === 'testing') {
      o.log.info(`MTA-STS testing mode: ${policy.sts.domain}: host ${label} does not offer STARTTLS`);
    }
    if (requiresTls(policy.level)) {
      throw new SessionAbort({
        soft: true,
        dsn: '4.7.4',
        reason: `TLS is required, but was not offered by host ${label}`,
      });
    }
  } else if (wantTls) {
    const r = await step(label, 'sending STARTTLS', async () => {
      await conn.write('STARTTLS\r\n', s.starttlsTimeout);
      return conn.readReply(s.starttlsTimeout);
    });
    if (r.code !== 220) {
      if (requiresTls(policy.level)) {
        throw new SessionAbort({
          soft: true,
          dsn: '4.7.4',
          reason: `TLS is required, but host ${label} refused to start TLS: ${r.text}`,
        });
      }
    } else {
      let sock;
      try {
        sock = await conn.startTls(handshakeOptions(s, policy, c.hostname), s.starttlsTimeout);
      } catch (e) {
        o.log.info(`SSL_connect error to ${relayOf(c)}: ${(e as Error).message}`);
        // For `may`, the caller retries this server in plaintext (Postfix's opportunistic fallback).
        throw new SessionAbort({
          soft: true,
          kind: 'tls-handshake',
          dsn: '4.7.5',
          reason: 'Cannot start TLS: handshake failure',
        });
      }
      let verdict = judgePeer(sock, policy, c.hostname, o.nexthopDomain);
      if (policy.tlsa) {
        if (!tlsaMatches(sock, policy.tlsa, [c.hostname, o.nexthopDomain])) {
          throw new SessionAbort({ soft: true, dsn: '4.7.5', reason: 'Server certificate not verified' });
        }
        verdict = { trust: 'Verified', trusted: true, matched: true };
      } else if (policy.level === 'fingerprint') {
        // Only the listed digests count; CA trust and names are beside the point.
        if (!fingerprintMatches(sock, policy.digest ?? 'sha256', policy.match))
          throw new SessionAbort({ soft: true, dsn: '4.7.5', reason: 'Server certificate not verified' });
        verdict = { trust: 'Verified', trusted: true, matched: true };
      } else if (verifiesPeer(policy.level)) {
        if (!verdict.trusted)
          throw new SessionAbort({ soft: true, dsn: '4.7.5', reason: 'Server certificate not trusted' });
        if (!verdict.matched)
          throw new SessionAbort({ soft: true, dsn: '4.7.5', reason: 'Server certificate not verified' });
      }
      if (policy.sts?.mode === 'testing' && !(verdict.trusted && verdict.matched)) {
        o.log.info(`MTA-STS testing mode: ${policy.sts.domain}: certificate of ${relayOf(c)} not verified`);
      }
      o.log.info(`${verdict.trust} TLS connection established to ${relayOf(c)}: ${describeTls(sock)}`);
      tlsState = verdict.trust === 'Verified' ? 'verified' : 'tls';
      // RFC 3207 section 4.2: forget everything learned before TLS and say hello again.
      ({ features, esmtp } = await hello(conn, label, s, useEhlo));
    }
  }

  if (o.sasl?.settings.enabled && o.sasl.credentials && features.has('AUTH')) {
    await saslLogin(conn, label, features.get('AUTH') ?? '', o.sasl.settings, o.sasl.credentials, s, tlsState);
  }
  if (s.sendXforward && features.has('XFORWARD') && o.req.client) {
    await xforward(conn, label, s, features.get('XFORWARD') ?? '', o.req);
  }
  return { conn, candidate: c, label, relay: relayOf(c), features, esmtp, greetingName };
}

async function hello(
  conn: SmtpConnection,
  label: string,
  s: ClientSettings,
  useEhlo: boolean,
): Promise<{ features: Map<string, string>; esmtp: boolean }> {
  const verb = s.protocol === 'lmtp' ? 'LHLO' : useEhlo ? 'EHLO' : 'HELO';
  const stage = `performing the ${verb} handshake`;
  const r = await step(label, stage, async () => {
    await conn.write(`${verb} ${s.heloName}\r\n`, s.heloTimeout);
    return conn.readReply(s.heloTimeout);
  });
  if (verb === 'EHLO' && r.code >= 500 && r.code < 600 && !s.neverSendEhlo) {
    // RFC 5321 section 4.1.1.1: a server that does not know EHLO gets HELO.
    const helo = await step(label, 'performing the HELO handshake', async () => {
      await conn.write(`HELO ${s.heloName}\r\n`, s.heloTimeout);
      return conn.readReply(s.heloTimeout);
    });
    if (helo.code !== 250) throw new SessionAbort(replyFailure(helo, label, 'HELO'));
    return { features: new Map(), esmtp: false };
  }
  if (r.code !== 250) throw new SessionAbort(replyFailure(r, label, verb));
  const features = new Map<string, string>();
  for (const line of r.lines.slice(1)) {
    const [kw, ...args] = line.slice(4).trim().split(/\s+/);
    if (kw) features.set(kw.toUpperCase(), args.join(' '));
  }
  return { features, esmtp: verb !== 'HELO' };
}

async function saslLogin(
  conn: SmtpConnection,
  label: string,
  offered: string,
  sasl: SaslSettings,
  cred: Credentials,
  s: ClientSettings,
  tls: TlsState,
): Promise<void> {
  const mech = chooseMechanism(sasl, offered, tls);
  if (!mech) {
    throw new SessionAbort({
      soft: true,
      dsn: '4.7.0',
      reason: `SASL authentication failed; cannot authenticate to server ${label}: no mechanism available`,
    });
  }
  const r = await step(label, 'authenticating', () => authenticate(conn, mech, cred, s.heloTimeout));
  if (r.ok) return;
  // smtp_sasl_auth_soft_bounce: a rejected password is more often our mistake than the sender's.
  const dsn = r.code >= 500 && !sasl.softBounce ? '5.7.8' : '4.7.8';
  throw new SessionAbort({
    soft: dsn.startsWith('4'),
    dsn,
    reason: `SASL authentication failed; server ${label} said: ${r.text}`,
    remoteReply: r.text,
  });
}

/** XFORWARD (Postfix's XFORWARD_README): tell a content filter who the original client was. */
async function xforward(
  conn: SmtpConnection,
  label: string,
  s: ClientSettings,
  offered: string,
  req: DeliveryRequest,
): Promise<void> {
  const want = new Set(offered.toUpperCase().split(/\s+/));
  const c = req.client;
  if (!c) return;
  const xtext = (v: string): string =>
    v.replace(/[^!-~]|[+=]/g, (ch) => `+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  const attrs: [string, string][] = [
    ['NAME', c.name || '[UNAVAILABLE]'],
    ['ADDR', c.addr || '[UNAVAILABLE]'],
    ['HELO', c.helo || '[UNAVAILABLE]'],
    ['IDENT', req.queueId],
    ['SOURCE', 'REMOTE'],
  ];
  const line = attrs
    .filter(([k]) => want.has(k))
    .map(([k, v]) => `${k}=${xtext(v)}`)
    .join(' ');
  if (!line) return;
  const r = await step(label, 'sending XFORWARD', async () => {
    await conn.write(`XFORWARD ${line}\r\n`, s.xforwardTimeout);
    return conn.readReply(s.xforwardTimeout);
  });
  if (r.code !== 250) throw new SessionAbort(replyFailure(r, label, 'XFORWARD'));
}
