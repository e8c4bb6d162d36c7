// The smtp(8)/lmtp(8) client's configuration, read once per delivery from
// the `smtp_*` parameters, or their `lmtp_*` twins when the program runs as
// lmtp (Postfix builds both from one source and picks the prefix by name).
import { paramSpec } from '../../global/params/registry.js';
import type { ParamReader } from '../../global/params/types.js';
import {
  TlsConfigError,
  cipherList,
  parseGrade,
  parseProtocols,
  type ProtocolRange,
} from '../../global/tls/protocols.js';

export type Protocol = 'smtp' | 'lmtp';
export type TlsLevel = 'none' | 'may' | 'encrypt' | 'fingerprint' | 'verify' | 'secure' | 'dane' | 'dane-only';

/** Protocol range and OpenSSL cipher list for one class of TLS use. */
export interface TlsParams {
  readonly range: ProtocolRange;
  readonly ciphers: string;
}

export interface ClientSettings {
  readonly protocol: Protocol;
  readonly heloName: string;
  readonly defaultPort: number;
  readonly myhostname: string;
  readonly connectTimeout: number;
  readonly heloTimeout: number;
  readonly xforwardTimeout: number;
  readonly mailTimeout: number;
  readonly rcptTimeout: number;
  readonly dataInitTimeout: number;
  readonly dataXferTimeout: number;
  readonly dataDoneTimeout: number;
  readonly rsetTimeout: number;
  readonly quitTimeout: number;
  readonly starttlsTimeout: number;
  readonly mxAddressLimit: number;
  readonly mxSessionLimit: number;
  readonly lineLengthLimit: number;
  readonly recipientLimit: number;
  readonly skip5xxGreeting: boolean;
  readonly alwaysSendEhlo: boolean;
  readonly neverSendEhlo: boolean;
  readonly sendXforward: boolean;
  readonly dnsLevel: 'disabled' | 'enabled' | 'dnssec';
  readonly hostLookup: readonly ('dns' | 'native')[];
  readonly families: readonly (4 | 6)[];
  readonly addressPreference: 'any' | 'ipv4' | 'ipv6';
  readonly randomizeAddresses: boolean;
  readonly bindAddress: string;
  readonly bindAddress6: string;
  readonly fallbackRelay: readonly string[];
  readonly deferIfNoMxAddress: boolean;
  readonly cacheOnDemand: boolean;
  readonly cacheDestinations: readonly string[];
  readonly cacheTimeLimit: number;
  readonly reuseTimeLimit: number;
  readonly reuseCountLimit: number;
  readonly mimeConversion: boolean;
  readonly tlsLevel: TlsLevel;
  readonly tlsCAfile: string;
  readonly tlsPolicyMaps: readonly string[];
  readonly tlsVerifyMatch: readonly string[];
  readonly tlsSecureMatch: readonly string[];
  readonly tlsFingerprintMatch: readonly string[];
  /** For opportunistic TLS (`may`): smtp_tls_protocols, smtp_tls_ciphers; an error when they are invalid. */
  readonly tlsOpportunistic: TlsParams | TlsConfigError;
  /** For mandatory levels: smtp_tls_mandatory_protocols, smtp_tls_mandatory_ciphers and both exclusion lists. */
  readonly tlsMandatory: TlsParams | TlsConfigError;
  /** smtp_tls_fingerprint_digest as written (checked when a fingerprint policy needs it). */
  readonly tlsFingerprintDigest: string;
}

/** `smtp_helo_name` is `lmtp_lhlo_name` in lmtp; other names just swap the prefix. */
const LMTP_RENAMES: Record<string, string> = { helo_name: 'lhlo_name', helo_timeout: 'lhlo_timeout' };

export function paramName(protocol: Protocol, suffix: string): string {
  if (protocol === 'smtp') return `smtp_${suffix}`;
  const name = `lmtp_${LMTP_RENAMES[suffix] ?? suffix}`;
  return paramSpec(name) ? name : `smtp_${suffix}`;
}

const SERVICE_PORTS: Record<string, number> = { smtp: 25, lmtp: 24, submission: 587, submissions: 465, smtps: 465 };

/** A port number or a service name from the few that mail uses. */
export function parsePort(text: string): number | undefined {
  if (/^\d{1,5}$/.test(text)) {
    const n = Number.parseInt(text, 10);
    return n > 0 && n < 65536 ? n : undefined;
  }
  return SERVICE_PORTS[text.toLowerCase()];
}

export function readSettings(cfg: ParamReader, protocol: Protocol): ClientSettings {
  const p = (s: string): string => paramName(protocol, s);
  const lower = (s: string): string => cfg.get(p(s)).trim().toLowerCase();
  const dnsLevelText = lower('dns_support_level');
  const dnsLevel: ClientSettings['dnsLevel'] =
    dnsLevelText === 'disabled' || dnsLevelText === 'dnssec' || dnsLevelText === 'enabled'
      ? dnsLevelText
      : cfg.bool('disable_dns_lookups')
        ? 'disabled'
        : 'enabled';
  const protocols = cfg.list('inet_protocols').map((s) => s.toLowerCase());
  const families: (4 | 6)[] = protocols.includes('all')
    ? [4, 6]
    : [...(protocols.includes('ipv4') ? [4 as const] : []), ...(protocols.includes('ipv6') ? [6 as const] : [])];
  const pref = lower('address_preference');
  const lookups = cfg
    .list(p('host_lookup'))
    .map((s) => s.toLowerCase())
    .filter((s): s is 'dns' | 'native' => s === 'dns' || s === 'native');
  const level = lower('tls_security_level');
  const port = parsePort(cfg.get(p('tcp_port')) || protocol);
  const recipientLimit = cfg.int(p('destination_recipient_limit'));
  return {
    protocol,
    heloName: cfg.get(p('helo_name')) || cfg.get('myhostname'),
    defaultPort: port ?? (protocol === 'smtp' ? 25 : 24),
    myhostname: cfg.get('myhostname'),
    connectTimeout: cfg.time(p('connect_timeout')),
    heloTimeout: cfg.time(p('helo_timeout')),
    xforwardTimeout: cfg.time(p('xforward_timeout')),
    mailTimeout: cfg.time(p('mail_timeout')),
    rcptTimeout: cfg.time(p('rcpt_timeout')),
    dataInitTimeout: cfg.time(p('data_init_timeout')),
    dataXferTimeout: cfg.time(p('data_xfer_timeout')),
    dataDoneTimeout: cfg.time(p('data_done_timeout')),
    rsetTimeout: cfg.time(p('rset_timeout')),
    quitTimeout: cfg.time(p('quit_timeout')),
    starttlsTimeout: cfg.time(p('starttls_timeout')),
    mxAddressLimit: cfg.int(p('mx_address_limit')),
    mxSessionLimit: cfg.int(p('mx_session_limit')),
    lineLengthLimit: cfg.int(p('line_length_limit')),
    recipientLimit: recipientLimit > 0 ? recipientLimit : Number.MAX_SAFE_INTEGER,
    skip5xxGreeting: cfg.bool(p('skip_5xx_greeting')),
    alwaysSendEhlo: protocol === 'smtp' ? cfg.bool('smtp_always_send_ehlo') : true,
    neverSendEhlo: protocol === 'smtp' ? cfg.bool('smtp_never_send_ehlo') : false,
    sendXforward: cfg.bool(p('send_xforward_command')),
    dnsLevel,
    hostLookup: lookups.length ? lookups : ['dns'],
    families: families.length ? families : [4],
    addressPreference: pref === 'ipv4' || pref === 'ipv6' ? pref : 'any',
    randomizeAddresses: cfg.bool(p('randomize_addresses')),
    bindAddress: cfg.get(p('bind_address')),
    bindAddress6: cfg.get(p('bind_address6')),
    fallbackRelay: cfg.list(p('fallback_relay')),
    deferIfNoMxAddress: cfg.bool(p('defer_if_no_mx_address_found')),
    cacheOnDemand: cfg.bool(p('connection_cache_on_demand')),
    cacheDestinations: cfg.list(p('connection_cache_destinations')),
    cacheTimeLimit: cfg.time(p('connection_cache_time_limit')),
    reuseTimeLimit: cfg.time(p('connection_reuse_time_limit')),
    reuseCountLimit: cfg.int(p('connection_reuse_count_limit')),
    mimeConversion: !cfg.bool('disable_mime_output_conversion'),
    tlsLevel: isTlsLevel(level) ? level : legacyTlsLevel(cfg, p),
    tlsCAfile: cfg.get(p('tls_CAfile')),
    tlsPolicyMaps: cfg.list(p('tls_policy_maps')),
    tlsVerifyMatch: cfg.list(p('tls_verify_cert_match')),
    tlsSecureMatch: cfg.list(p('tls_secure_cert_match')),
    tlsFingerprintMatch: cfg.list(p('tls_fingerprint_cert_match')),
    tlsFingerprintDigest: cfg.get(p('tls_fingerprint_digest')),
    tlsOpportunistic: tlsParams(cfg, p, false),
    tlsMandatory: tlsParams(cfg, p, true),
  };
}

/** Read with the shared TLS parameter parsers (global/tls/protocols.ts), as smtpd does. */
function tlsParams(cfg: ParamReader, p: (s: string) => string, mandatory: boolean): TlsParams | TlsConfigError {
  const protocols = p(mandatory ? 'tls_mandatory_protocols' : 'tls_protocols');
  const grade = p(mandatory ? 'tls_mandatory_ciphers' : 'tls_ciphers');
  const exclude = [
    ...cfg.list(p('tls_exclude_ciphers')),
    ...(mandatory ? cfg.list(p('tls_mandatory_exclude_ciphers')) : []),
  ];
  try {
    return {
      range: parseProtocols(cfg.get(protocols), protocols),
      ciphers: cipherList(cfg, parseGrade(cfg.get(grade), grade), exclude),
    };
  } catch (e) {
    if (e instanceof TlsConfigError) return e;
    throw e;
  }
}

export function isTlsLevel(s: string): s is TlsLevel {
  return ['none', 'may', 'encrypt', 'fingerprint', 'verify', 'secure', 'dane', 'dane-only'].includes(s);
}

/** Before `smtp_tls_security_level`, Postfix had on/off switches; they still count when the level is empty. */
function legacyTlsLevel(cfg: ParamReader, p: (s: string) => string): TlsLevel {
  const yes = (suffix: string): boolean => {
    const name = p(suffix);
    return paramSpec(name) !== undefined && cfg.bool(name);
  };
  if (yes('enforce_tls')) return yes('tls_enforce_peername') ? 'verify' : 'encrypt';
  return yes('use_tls') ? 'may' : 'none';
}
