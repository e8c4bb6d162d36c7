// SCRAM-SHA-256 and SCRAM-SHA-1 (RFC 5802, RFC 7677) for the smtp client's
// AUTH: the password never crosses the wire and the server proves it knows
// it too. Without channel binding (`n,,`), as Cyrus SASL does for SMTP.
// A server that fails its proof, or asks for absurd work, fails the login.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { SmtpConnection } from './connection.js';
import type { Credentials } from './sasl.js';

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-1';

/** More iterations than this would let a hostile server stall the client. */
const MAX_ITERATIONS = 100000;
const pbkdf2Async = promisify(pbkdf2);

/** RFC 5802 section 5.1: `=` and `,` in a user name are escaped. */
function saslname(user: string): string {
  return user.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function attrs(msg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(',')) if (part.length >= 2 && part[1] === '=') out.set(part[0] ?? '', part.slice(2));
  return out;
}

export type ScramResult = { ok: true } | { ok: false; code: number; text: string };

export async function scramLogin(
  conn: SmtpConnection,
  mech: ScramMechanism,
  cred: Credentials,
  timeout: number,
): Promise<ScramResult> {
  const hash = mech === 'SCRAM-SHA-256' ? 'sha256' : 'sha1';
  const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
  const fail = async (text: string): Promise<ScramResult> => {
    // `*` cancels the exchange (RFC 4954 section 4); the server answers 501.
    await conn.write('*\r\n', timeout);
    await conn.readReply(timeout).catch(() => undefined);
    return { ok: false, code: 535, text };
  };
  const nonce = randomBytes(18).toString('base64');
  const clientFirstBare = `n=${saslname(cred.user.normalize('NFKC'))},r=${nonce}`;
  await conn.write(`AUTH ${mech} ${b64(`n,,${clientFirstBare}`)}\r\n`, timeout);
  let r = await conn.readReply(timeout);
  if (r.code !== 334) return { ok: false, code: r.code, text: r.text };
  const serverFirst = Buffer.from(r.text.slice(4).trim(), 'base64').toString('utf8');
  const sf = attrs(serverFirst);
  const serverNonce = sf.get('r') ?? '';
  const salt = Buffer.from(sf.get('s') ?? '', 'base64');
  const iterations = Number.parseInt(sf.get('i') ?? '', 10);
  if (!serverNonce.startsWith(nonce) || serverNonce === nonce || salt.length === 0) {
    return fail('malformed SCRAM server challenge');
  }
  if (!(iterations > 0 && iterations <= MAX_ITERATIONS)) return fail(`SCRAM iteration count ${iterations} refused`);
  const keyLen = hash === 'sha256' ? 32 : 20;
  const salted = await pbkdf2Async(cred.password.normalize('NFKC'), salt, iterations, keyLen, hash);
  const hmac = (key: Buffer, text: string): Buffer => createHmac(hash, key).update(text).digest();
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash(hash).update(clientKey).digest();
  const withoutProof = `c=${b64('n,,')},r=${serverNonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = hmac(storedKey, authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] ?? 0)));
  await conn.write(`${b64(`${withoutProof},p=${proof.toString('base64')}`)}\r\n`, timeout);
  r = await conn.readReply(timeout);
  if (r.code !== 334 && r.code !== 235) return { ok: false, code: r.code, text: r.text };
  if (r.code === 334) {
    const verifier = attrs(Buffer.from(r.text.slice(4).trim(), 'base64').toString('utf8')).get('v') ?? '';
    const expected = hmac(hmac(salted, 'Server Key'), authMessage);
    const given = Buffer.from(verifier, 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return fail('SCRAM server signature mismatch');
    }
    await conn.write('\r\n', timeout);
    r = await conn.readReply(timeout);
  }
  return r.code === 235 ? { ok: true } : { ok: false, code: r.code, text: r.text };
}
