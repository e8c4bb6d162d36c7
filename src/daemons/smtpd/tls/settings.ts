// smtpd(8)'s TLS parameters (TLS_README "Server-side TLS"), read once per
// service into a typed record: the security level with the legacy
// smtpd_use_tls/smtpd_enforce_tls fallbacks, wrapper mode, client
// certificate requests, protocol and cipher choices for opportunistic and
// mandatory TLS, logging and the Received: header option.
import type { ParamReader } from '../../../global/params/types.js';
import {
  TlsConfigError,
  cipherList,
  narrowRange,
  parseGrade,
  parseProtocols,
  type ProtocolRange,
} from '../../../global/tls/protocols.js';

export type SmtpdTlsLevel = 'none' | 'may' | 'encrypt';

export interface SmtpdTlsSettings {
  readonly level: SmtpdTlsLevel;
  readonly wrapperMode: boolean;
  readonly askCcert: boolean;
  /** Effective only at level encrypt (or in wrapper mode), as in Postfix. */
  readonly reqCcert: boolean;
  readonly authOnly: boolean;
  readonly logLevel: number;
  readonly receivedHeader: boolean;
  readonly protocols: ProtocolRange;
  readonly ciphers: string;
  readonly fingerprintDigest: string;
  readonly dhParamFile: string;
  readonly sniMaps: readonly string[];
  readonly sessionTimeoutSec: number;
  readonly handshakeTimeoutSec: number;
  readonly appendDefaultCa: boolean;
  readonly myhostname: string;
}

function level(config: ParamReader): SmtpdTlsLevel {
  const v = config.get('smtpd_tls_security_level').trim().toLowerCase();
  if (v === '') {
    if (config.bool('smtpd_enforce_tls')) return 'encrypt';
    return config.bool('smtpd_use_tls') ? 'may' : 'none';
  }
  if (v === 'none' || v === 'may' || v === 'encrypt') return v;
  throw new TlsConfigError(`invalid smtpd_tls_security_level value: "${v}"`);
}

const DIGESTS = new Set(['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512']);

export function readTlsSettings(config: ParamReader, warn: (t: string) => void): SmtpdTlsSettings {
  const lvl = level(config);
  const wrapperMode = config.bool('smtpd_tls_wrappermode');
  const mandatory = lvl === 'encrypt' || wrapperMode;
  let reqCcert = config.bool('smtpd_tls_req_ccert');
  if (reqCcert && !mandatory) {
    warn("Can't require client certs unless TLS is required; disabling smtpd_tls_req_ccert");
    reqCcert = false;
  }
  const opportunistic = parseProtocols(config.get('smtpd_tls_protocols'), 'smtpd_tls_protocols');
  const protocols = mandatory
    ? narrowRange(
        opportunistic,
        parseProtocols(config.get('smtpd_tls_mandatory_protocols'), 'smtpd_tls_mandatory_protocols'),
        'smtpd_tls_mandatory_protocols',
      )
    : opportunistic;
  const exclude = config.list('smtpd_tls_exclude_ciphers');
  const ciphers = mandatory
    ? cipherList(config, parseGrade(config.get('smtpd_tls_mandatory_ciphers'), 'smtpd_tls_mandatory_ciphers'), [
        ...exclude,
        ...config.list('smtpd_tls_mandatory_exclude_ciphers'),
      ])
    : cipherList(config, parseGrade(config.get('smtpd_tls_ciphers'), 'smtpd_tls_ciphers'), exclude);
  const digest = config.get('smtpd_tls_fingerprint_digest').trim().toLowerCase() || 'sha256';
  if (!DIGESTS.has(digest)) throw new TlsConfigError(`invalid smtpd_tls_fingerprint_digest value: "${digest}"`);
  const loglevel = Number.parseInt(config.get('smtpd_tls_loglevel'), 10);
  return {
    level: lvl,
    wrapperMode,
    askCcert: config.bool('smtpd_tls_ask_ccert') || reqCcert,
    reqCcert,
    authOnly: config.bool('smtpd_tls_auth_only'),
    logLevel: Number.isFinite(loglevel) ? loglevel : 0,
    receivedHeader: config.bool('smtpd_tls_received_header'),
    protocols,
    ciphers,
    fingerprintDigest: digest,
    dhParamFile: config.get('smtpd_tls_dh1024_param_file').trim(),
    sniMaps: config.list('tls_server_sni_maps'),
    sessionTimeoutSec: config.time('smtpd_tls_session_cache_timeout'),
    handshakeTimeoutSec: config.time('smtpd_starttls_timeout'),
    appendDefaultCa: config.bool('tls_append_default_CA'),
    myhostname: config.get('myhostname'),
  };
}
