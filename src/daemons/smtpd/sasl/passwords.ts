// Password hashes for Postern's built-in SASL server (smtpd_sasl_type =
// postern): the schemes Dovecot's passwd-file users already have, so a
// table can be shared — `{BLF-CRYPT}`/`$2y$` bcrypt, `{SHA512-CRYPT}`/`$6$`
// and `{SHA256-CRYPT}`/`$5$` crypt(3), salted and plain SHA-2, and
// `{PLAIN}` for tests and SCRAM. Comparison never short-circuits on content.
import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { verify as cryptVerify } from 'unixcrypt';

export class PasswordSchemeError extends Error {
  override name = 'PasswordSchemeError';
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  // Hash both sides first so the comparison time does not depend on the lengths.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** Salted/plain SHA-2 as Dovecot stores them: base64(digest [+ salt]). */
function sha2(password: string, stored: string, alg: 'sha256' | 'sha512', salted: boolean): boolean {
  const raw = Buffer.from(stored, 'base64');
  const len = alg === 'sha256' ? 32 : 64;
  if (raw.length < len || (!salted && raw.length !== len)) return false;
  const salt = raw.subarray(len);
  const d = createHash(alg).update(password, 'utf8').update(salt).digest();
  return sameBytes(d, raw.subarray(0, len));
}

/** Split `{SCHEME}rest`; a bare `$id$...` string is crypt(3). */
export function splitScheme(stored: string): { scheme: string; value: string } {
  const m = /^\{([A-Za-z0-9.-]+)\}(.*)$/s.exec(stored);
  if (m) return { scheme: (m[1] ?? '').toUpperCase(), value: m[2] ?? '' };
  if (/^\$2[aby]\$/.test(stored)) return { scheme: 'BLF-CRYPT', value: stored };
  if (stored.startsWith('$')) return { scheme: 'CRYPT', value: stored };
  throw new PasswordSchemeError('password hash without a {SCHEME} prefix');
}

/** The plaintext password, when the table stores one (for SCRAM). */
export function plaintextOf(stored: string): string | undefined {
  try {
    const { scheme, value } = splitScheme(stored);
    return scheme === 'PLAIN' || scheme === 'CLEARTEXT' || scheme === 'CLEAR' ? value : undefined;
  } catch {
    return undefined;
  }
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const { scheme, value } = splitScheme(stored.trim());
  switch (scheme) {
    case 'PLAIN':
    case 'CLEAR':
    case 'CLEARTEXT':
      return sameBytes(Buffer.from(password, 'utf8'), Buffer.from(value, 'utf8'));
    case 'BLF-CRYPT':
    case 'BCRYPT':
      // bcryptjs knows $2a$/$2b$; $2y$ (PHP, Dovecot) is the same algorithm.
      return bcrypt.compare(password, value.replace(/^\$2y\$/, '$2b$'));
    case 'SHA512-CRYPT':
    case 'SHA256-CRYPT':
    case 'CRYPT':
      if (!/^\$[56]\$/.test(value)) {
        if (/^\$2[aby]\$/.test(value)) return bcrypt.compare(password, value.replace(/^\$2y\$/, '$2b$'));
        throw new PasswordSchemeError('unsupported crypt(3) hash (only $2y$, $5$ and $6$)');
      }
      return cryptVerify(password, value);
    case 'SHA256':
      return sha2(password, value, 'sha256', false);
    case 'SSHA256':
      return sha2(password, value, 'sha256', true);
    case 'SHA512':
      return sha2(password, value, 'sha512', false);
    case 'SSHA512':
      return sha2(password, value, 'sha512', true);
    default:
      throw new PasswordSchemeError(`unsupported password scheme {${scheme}}`);
  }
}
