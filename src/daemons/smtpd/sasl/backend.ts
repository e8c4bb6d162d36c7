// The seam between smtpd's AUTH command and a SASL server (SASL_README):
// a backend lists its mechanisms with their security properties (so
// smtpd_sasl_security_options can filter them) and runs one exchange.
// Backends: dovecot-backend.ts (Dovecot's auth socket) and
// postern-backend.ts (users and hashes in a lookup table).
import type { SmtpReply } from '../../../global/smtp/reply.js';

export interface MechanismInfo {
  readonly name: string;
  /** Sends the password in the clear (PLAIN, LOGIN): removed by `noplaintext`. */
  readonly plaintext: boolean;
  readonly anonymous: boolean;
  /** Open to offline dictionary attacks (CRAM-MD5, DIGEST-MD5): removed by `nodictionary`. */
  readonly dictionary: boolean;
  readonly mutualAuth: boolean;
}

export interface SaslClient {
  readonly namaddr: string;
  readonly addr: string;
  readonly port: number;
  readonly localAddr: string;
  readonly localPort: number;
  readonly tls: boolean;
}

export interface SaslExchange {
  readonly mechanism: string;
  /** The initial response as sent (base64, `=` for empty), if any. */
  readonly initial: string | undefined;
  /** Send a 334 with base64 `text`; resolves with the client's base64 line. */
  challenge(text: string): Promise<string>;
  readonly client: SaslClient;
}

export type SaslOutcome =
  | { readonly ok: true; readonly username: string }
  /** `reason` is for the log (never credentials); `reply` goes to the client. */
  | { readonly ok: false; readonly reply: SmtpReply; readonly reason: string };

export interface SaslBackend {
  mechanisms(): readonly MechanismInfo[];
  authenticate(x: SaslExchange): Promise<SaslOutcome>;
  /** Resolves once the mechanism list is known (Dovecot answers asynchronously). */
  ready(): Promise<void>;
  close(): void;
}

export const AUTH_FAILED = (why = 'authentication failure'): SaslOutcome => ({
  ok: false,
  reason: why,
  reply: { code: 535, dsn: '5.7.8', text: 'Error: authentication failed: authentication failure' },
});

export const AUTH_ABORTED: SaslOutcome = {
  ok: false,
  reason: 'aborted by client',
  reply: { code: 501, dsn: '5.7.0', text: 'Authentication aborted' },
};

export const AUTH_TEMPFAIL = (why: string): SaslOutcome => ({
  ok: false,
  reason: why,
  reply: { code: 454, dsn: '4.7.0', text: 'Temporary authentication failure' },
});

/** Strict base64 (RFC 4648, padding required); `=` alone is the empty response (RFC 4954). */
export function decodeBase64(text: string): Buffer | undefined {
  if (text === '=') return Buffer.alloc(0);
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

export const BAD_BASE64: SaslOutcome = {
  ok: false,
  reason: 'malformed response',
  reply: { code: 501, dsn: '5.5.2', text: 'Cannot decode response' },
};
