// smtpd(8)'s side of TLS (TLS_README, RFC 3207): builds the server context
// from main.cf/master.cf, runs the handshake for STARTTLS and SMTPS wrapper
// mode, and logs the session as Postfix does ("Anonymous TLS connection
// established from name[addr]: TLSv1.3 with cipher ..."). `reload()` swaps
// in new certificates for new sessions; open sessions keep theirs.
// Touches: certificate files (read once per start/reload), the client socket.
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import { randomBytes, constants as cryptoConstants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../../global/log/logger.js';
import type { ParamReader } from '../../../global/params/types.js';
import type { Dict } from '../../../global/dict/dict-api.js';
import {
  certFingerprints,
  loadCaCerts,
  loadKeyPairs,
  splitChain,
  type KeyPair,
} from '../../../global/tls/credentials.js';
import type { StartTlsHook, TlsPeerCert, TlsSessionInfo } from '../types.js';
import { readTlsSettings, type SmtpdTlsSettings } from './settings.js';

export type OpenDict = (spec: string) => Promise<Dict>;

export interface SmtpdTls extends StartTlsHook {
  readonly settings: SmtpdTlsSettings;
  /** `postfix reload`: new parameters and certificates for new sessions. A broken file keeps the old ones. */
  reload(config: ParamReader): void;
}

interface Built {
  readonly settings: SmtpdTlsSettings;
  /** undefined when TLS cannot be offered (level none, or no usable certificate). */
  readonly context: SecureContext | undefined;
  readonly ca: string[] | undefined;
}

/** Session ticket keys live as long as the process, so a reload does not void resumption. */
const TICKET_KEYS = randomBytes(48);

function contextOptions(
  s: SmtpdTlsSettings,
  pairs: readonly KeyPair[],
  ca: string[] | undefined,
): tls.SecureContextOptions {
  const opts: tls.SecureContextOptions = {
    key: pairs.map((p) => p.key),
    cert: pairs.map((p) => p.certs),
    minVersion: s.protocols.minVersion,
    maxVersion: s.protocols.maxVersion,
    ciphers: s.ciphers,
    sessionTimeout: Math.max(s.sessionTimeoutSec, 1),
    ticketKeys: TICKET_KEYS,
    // SMTP has no session id per virtual host; one constant context id lets resumption work.
    sessionIdContext: 'postern-smtpd',
  };
  if (s.sessionTimeoutSec === 0) opts.secureOptions = cryptoConstants.SSL_OP_NO_TICKET;
  if (s.dhParamFile) opts.dhparam = readFileSync(s.dhParamFile);
  if (ca) opts.ca = s.appendDefaultCa ? [...tls.rootCertificates, ...ca] : ca;
  else if (s.appendDefaultCa) opts.ca = [...tls.rootCertificates];
  return opts;
}

function build(config: ParamReader, logger: Logger): Built {
  const settings = readTlsSettings(config, (t) => logger.warning(t));
  if (settings.level === 'none' && !settings.wrapperMode) return { settings, context: undefined, ca: undefined };
  try {
    const pairs: KeyPair[] = loadKeyPairs(config, 'smtpd');
    if (pairs.length === 0) throw new Error('no certificate configured (smtpd_tls_chain_files or smtpd_tls_cert_file)');
    const ca = loadCaCerts(config, 'smtpd');
    return { settings, context: tls.createSecureContext(contextOptions(settings, pairs, ca)), ca };
  } catch (e) {
    // As Postfix: a broken certificate, CA or DH file means no TLS, never a dead daemon.
    logger.warning(`${(e as Error).message}: disabling TLS support`);
    return { settings, context: undefined, ca: undefined };
  }
}

/** Key bits of the bulk cipher, from its name (OpenSSL reports no number to Node). */
function cipherBits(name: string): number {
  if (/CHACHA20|AES[_-]?256|CAMELLIA256|ARIA256/i.test(name)) return 256;
  if (/AES[_-]?128|CAMELLIA128|ARIA128|SEED|IDEA/i.test(name)) return 128;
  if (/3DES|DES-CBC3/i.test(name)) return 168;
  return 0;
}

function peerCert(sock: TLSSocket, digest: string): TlsPeerCert | undefined {
  const x = sock.getPeerX509Certificate();
  if (!x) return undefined;
  const fp = certFingerprints(x, digest);
  const cn = (dn: string): string => /(?:^|\n)CN=([^\n]*)/.exec(dn)?.[1] ?? '';
  return {
    subjectCN: cn(x.subject),
    issuerCN: cn(x.issuer),
    fingerprint: fp.cert,
    pubkeyFingerprint: fp.pubkey,
    verified: chainVerified(sock),
  };
}

/**
 * OpenSSL's verdict on the client's chain against the CA list. Node sets
 * `authorized` only for sockets a tls.Server created; a TLSSocket built over
 * an existing connection (STARTTLS) must ask the handle, as Node itself does.
 */
function chainVerified(sock: TLSSocket): boolean {
  const handle = (sock as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
  if (typeof handle?.verifyError !== 'function') return sock.authorized;
  return handle.verifyError() === null;
}

/** `Anonymous`, `Untrusted` or `Trusted`, the word Postfix starts its TLS log line with. */
export function trustWord(info: TlsSessionInfo): string {
  if (!info.peer) return 'Anonymous';
  return info.peer.verified ? 'Trusted' : 'Untrusted';
}

/** `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`. */
export function cipherText(info: TlsSessionInfo): string {
  return `${info.protocol} with cipher ${info.cipher} (${info.bits}/${info.bits} bits)`;
}

export function createSmtpdTls(config: ParamReader, logger: Logger, opts: { openDict?: OpenDict } = {}): SmtpdTls {
  let built = build(config, logger);
  const sniCache = new Map<string, SecureContext>();

  async function sniContext(servername: string): Promise<SecureContext | undefined> {
    const maps = built.settings.sniMaps;
    if (maps.length === 0 || !opts.openDict) return undefined;
    const name = servername.toLowerCase().replace(/\.$/, '');
    const labels = name.split('.');
    const keys = [name, ...labels.slice(1).map((_, i) => `.${labels.slice(i + 1).join('.')}`)];
    for (const spec of maps) {
      const dict = await opts.openDict(spec);
      for (const key of keys) {
        const value = await dict.lookup(key);
        if (value === undefined) continue;
        const cacheKey = `${spec}\0${key}\0${value}`;
        let ctx = sniCache.get(cacheKey);
        if (!ctx) {
          const pairs = splitChain(sniValue(value), `${spec}: ${key}`);
          ctx = tls.createSecureContext(contextOptions(built.settings, pairs, built.ca));
          if (sniCache.size > 1000) sniCache.clear();
          sniCache.set(cacheKey, ctx);
        }
        return ctx;
      }
    }
    return undefined;
  }

  function describe(sock: TLSSocket): TlsSessionInfo {
    const c = sock.getCipher();
    const peer = built.settings.askCcert ? peerCert(sock, built.settings.fingerprintDigest) : undefined;
    return {
      protocol: sock.getProtocol() ?? c.version,
      cipher: c.standardName || c.name,
      bits: cipherBits(c.standardName || c.name),
      certRequested: built.settings.askCcert,
      ...(peer ? { peer } : {}),
    };
  }

  return {
    get settings() {
      return built.settings;
    },
    available: () => built.context !== undefined && (built.settings.level !== 'none' || built.settings.wrapperMode),
    required: () => built.settings.level === 'encrypt' || built.settings.wrapperMode,
    wrapper: () => built.settings.wrapperMode,
    reload(next: ParamReader): void {
      try {
        built = build(next, logger);
        sniCache.clear();
      } catch (e) {
        logger.warning(`TLS configuration not reloaded: ${(e as Error).message}`);
      }
    },
    upgrade(plain: Duplex, namaddr = 'unknown') {
      const b = built;
      if (!b.context) return Promise.reject(new Error('TLS not available'));
      const s = b.settings;
      // Created synchronously: from here on the socket's bytes belong to the TLS layer.
      const sock = new tls.TLSSocket(plain, {
        isServer: true,
        secureContext: b.context,
        requestCert: s.askCcert,
        // Postfix completes the handshake and judges the certificate itself.
        rejectUnauthorized: false,
        ...(s.sniMaps.length > 0
          ? {
              SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => {
                sniContext(name).then(
                  (ctx) => cb(null, ctx ?? b.context),
                  (e: unknown) => {
                    logger.warning(`TLS SNI ${name} from ${namaddr}: ${(e as Error).message}`);
                    cb(e as Error);
                  },
                );
              },
            }
          : {}),
      });
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          sock.destroy(new Error('timeout'));
        }, s.handshakeTimeoutSec * 1000);
        const fail = (e: Error): void => {
          clearTimeout(timer);
          sock.destroy();
          reject(e);
        };
        sock.once('error', fail);
        sock.once('close', () => fail(new Error('lost connection')));
        sock.once('secure', () => {
          clearTimeout(timer);
          sock.off('error', fail);
          sock.removeAllListeners('close');
          // Later socket errors end the session through the reader, never the process.
          sock.on('error', () => undefined);
          const info = describe(sock);
          if (s.logLevel >= 1) {
            logger.info(`${trustWord(info)} TLS connection established from ${namaddr}: ${cipherText(info)}`);
          }
          const refused = s.reqCcert ? ccertProblem(info) : undefined;
          resolve({
            stream: sock,
            protocol: info.protocol,
            cipher: info.cipher,
            info,
            ...(refused ? { refused } : {}),
          });
        });
      });
    },
  };
}

/** smtpd_tls_req_ccert: a session without a verified client certificate is refused. */
function ccertProblem(info: TlsSessionInfo): string | undefined {
  if (!info.peer) return 'No client certificate presented';
  return info.peer.verified ? undefined : 'Client certificate not trusted';
}

/** An SNI table value: base64 PEM as `postmap -F` writes it, or the PEM text itself. */
function sniValue(value: string): string {
  const v = value.trim();
  if (v.includes('-----BEGIN')) return v;
  return Buffer.from(v.replace(/\s+/g, ''), 'base64').toString('utf8');
}
