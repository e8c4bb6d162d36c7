// smtpd_sasl_type = postern: a SASL server inside smtpd that needs no
// outside daemon. Users and password hashes come from the lookup tables
// named by smtpd_sasl_path (`type:table`, key = login name, value = hash
// as in passwords.ts; a name without `@` gets `@$smtpd_sasl_local_domain`
// when that is set, in the key and in the logged sasl_username). Mechanisms PLAIN and LOGIN (RFC 4616, the LOGIN
// draft); the exchange is decoded here, the password checked against the hash.
import type { Dict } from '../../../global/dict/dict-api.js';
import { DictRetryError } from '../../../global/dict/dict-api.js';
import {
  AUTH_ABORTED,
  AUTH_FAILED,
  AUTH_TEMPFAIL,
  BAD_BASE64,
  decodeBase64,
  type MechanismInfo,
  type SaslBackend,
  type SaslExchange,
  type SaslOutcome,
} from './backend.js';
import { PasswordSchemeError, verifyPassword } from './passwords.js';

const PLAIN: MechanismInfo = { name: 'PLAIN', plaintext: true, anonymous: false, dictionary: false, mutualAuth: false };
const LOGIN: MechanismInfo = { name: 'LOGIN', plaintext: true, anonymous: false, dictionary: false, mutualAuth: false };

/** Login names and passwords longer than this are refused unread. */
const MAX_FIELD = 1024;

type Credentials = { user: string; authzid: string; password: string } | SaslOutcome;

async function readPlain(x: SaslExchange): Promise<Credentials> {
  const resp = x.initial ?? (await x.challenge(''));
  if (resp === '*') return AUTH_ABORTED;
  const raw = decodeBase64(resp);
  if (!raw) return BAD_BASE64;
  const parts = raw.toString('utf8').split('\0');
  if (parts.length !== 3) return AUTH_FAILED('malformed PLAIN response');
  const [authzid = '', user = '', password = ''] = parts;
  return { user, authzid, password };
}

async function readLogin(x: SaslExchange): Promise<Credentials> {
  let u = x.initial;
  if (u === undefined) u = await x.challenge(Buffer.from('Username:').toString('base64'));
  if (u === '*') return AUTH_ABORTED;
  const user = decodeBase64(u);
  if (!user) return BAD_BASE64;
  const p = await x.challenge(Buffer.from('Password:').toString('base64'));
  if (p === '*') return AUTH_ABORTED;
  const password = decodeBase64(p);
  if (!password) return BAD_BASE64;
  return { user: user.toString('utf8'), authzid: '', password: password.toString('utf8') };
}

export class PosternSaslBackend implements SaslBackend {
  constructor(
    private readonly tables: readonly string[],
    private readonly openDict: (spec: string) => Promise<Dict>,
    private readonly warn: (text: string) => void,
    /** smtpd_sasl_local_domain: the realm of a login name given without one (as Cyrus sasldb keys it). */
    private readonly realm = '',
  ) {}

  mechanisms(): readonly MechanismInfo[] {
    return [PLAIN, LOGIN];
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {}

  async authenticate(x: SaslExchange): Promise<SaslOutcome> {
    const creds = x.mechanism === 'PLAIN' ? await readPlain(x) : await readLogin(x);
    if ('ok' in creds) return creds;
    const { user, authzid, password } = creds;
    if (user === '' || user.length > MAX_FIELD || password.length > MAX_FIELD || /[\0\r\n]/.test(user)) {
      return AUTH_FAILED();
    }
    // Logging in as someone else (a proxy authorisation identity) is not supported.
    if (authzid !== '' && authzid !== user) return AUTH_FAILED('authorization identity differs from login name');
    const login = this.realm !== '' && !user.includes('@') ? `${user}@${this.realm}` : user;
    let stored: string | undefined;
    try {
      for (const spec of this.tables) {
        stored = await (await this.openDict(spec)).lookup(login);
        if (stored !== undefined) break;
      }
    } catch (e) {
      if (e instanceof DictRetryError) return AUTH_TEMPFAIL(e.message);
      throw e;
    }
    if (stored === undefined) {
      // Spend about the same time as a real check, so unknown users are not told apart by timing.
      await verifyPassword(password, '{SHA512-CRYPT}$6$rounds=5000$postern$x').catch(() => false);
      return AUTH_FAILED();
    }
    try {
      return (await verifyPassword(password, stored)) ? { ok: true, username: login } : AUTH_FAILED();
    } catch (e) {
      if (e instanceof PasswordSchemeError) {
        this.warn(`SASL user ${user}: ${e.message}`);
        return AUTH_FAILED();
      }
      throw e;
    }
  }
}
