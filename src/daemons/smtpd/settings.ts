// smtpd(8)'s parameters, read once per service into a typed record so the
// protocol code never parses configuration text. Postern's hardened defaults
// (mail_name, smtpd_forbid_bare_newline, smtpd_forbid_unauth_pipelining) come
// from the registry like every other default (global/params/hardened.ts).
import type { ParamReader } from '../../global/params/types.js';
import type { BareNewlineMode } from '../../util/smtp-reader.js';
import { inetFamilies, type Families } from './proxy-protocol.js';

export interface SmtpdSettings {
  readonly myhostname: string;
  readonly mailName: string;
  readonly banner: string;
  readonly lineLengthLimit: number;
  readonly messageSizeLimit: number;
  readonly timeoutSec: number;
  readonly softErrorLimit: number;
  readonly hardErrorLimit: number;
  readonly errorSleepSec: number;
  readonly junkCommandLimit: number;
  readonly recipientLimit: number;
  readonly delayReject: boolean;
  readonly heloRequired: boolean;
  readonly peernameLookup: boolean;
  readonly disableVrfy: boolean;
  readonly smtputf8Enable: boolean;
  readonly discardEhloKeywords: readonly string[];
  readonly forbiddenCommands: readonly string[];
  /** Patterns from inline `regexp:{{/re/ ...}}` items of smtpd_forbidden_commands. */
  readonly forbiddenPatterns: readonly RegExp[];
  readonly bareNewline: BareNewlineMode;
  readonly bareNewlineExclusions: readonly string[];
  readonly bareNewlineRejectCode: number;
  readonly forbidUnauthPipelining: boolean;
  readonly connectionCountLimit: number;
  readonly connectionRateLimit: number;
  readonly messageRateLimit: number;
  readonly recipientRateLimit: number;
  readonly eventLimitExceptions: readonly string[];
  readonly authorizedXclientHosts: readonly string[];
  readonly authorizedXforwardHosts: readonly string[];
  readonly saslAuthEnable: boolean;
  /** Clients not offered AUTH in the EHLO reply (they may still use it, as in Postfix). */
  readonly saslExceptionsNetworks: readonly string[];
  readonly saslAuthenticatedHeader: boolean;
  readonly brokenSaslAuthClients: boolean;
  readonly tlsReceivedHeader: boolean;
  readonly clientPortLogging: boolean;
  /** smtpd_upstream_proxy_protocol: `haproxy`, or undefined for none. */
  readonly upstreamProxy: 'haproxy' | undefined;
  readonly upstreamProxyTimeoutSec: number;
  /** Address families inet_protocols enables (which PROXY headers are acceptable). */
  readonly families: Families;
  /** master.cf service name, used in anvil keys and log lines. */
  readonly service: string;
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

function bareNewlineMode(config: ParamReader): BareNewlineMode {
  const v = config.get('smtpd_forbid_bare_newline').toLowerCase();
  // `yes` is the Postfix 3.9 compatibility alias for `normalize`.
  if (v === 'normalize' || v === 'yes' || v === 'true') return 'normalize';
  if (v === 'reject') return 'reject';
  if (v === 'no' || v === 'false') return 'no';
  throw new SettingsError(`bad smtpd_forbid_bare_newline value: ${v}`);
}

/**
 * The patterns of an inline regexp table item (`regexp:{{/^[^A-Z]/ Bogus}}`).
 * Postfix regexp tables ignore case unless the `i` flag toggles it off.
 */
function inlineRegexps(item: string): RegExp[] {
  if (!item.startsWith('regexp:{') && !item.startsWith('pcre:{')) return [];
  const out: RegExp[] = [];
  for (const m of item.matchAll(/\{\s*\/((?:\\.|[^/\\])*)\/([a-zA-Z]*)[^}]*\}/g)) {
    const caseless = !(m[2] ?? '').includes('i');
    try {
      out.push(new RegExp(m[1] ?? '', caseless ? 'i' : ''));
    } catch {
      throw new SettingsError(`smtpd_forbidden_commands: bad regular expression: ${m[1] ?? ''}`);
    }
  }
  return out;
}

function upstreamProxy(config: ParamReader): 'haproxy' | undefined {
  const v = config.get('smtpd_upstream_proxy_protocol').trim();
  if (v === '') return undefined;
  if (v === 'haproxy') return v;
  throw new SettingsError(`unsupported smtpd_upstream_proxy_protocol value: ${v}`);
}

export function readSettings(config: ParamReader, service = 'smtp'): SmtpdSettings {
  return {
    myhostname: config.get('myhostname'),
    mailName: config.get('mail_name'),
    banner: config.get('smtpd_banner'),
    lineLengthLimit: Math.max(config.int('line_length_limit'), 80),
    messageSizeLimit: config.size('message_size_limit'),
    timeoutSec: config.time('smtpd_timeout'),
    softErrorLimit: config.int('smtpd_soft_error_limit'),
    hardErrorLimit: config.int('smtpd_hard_error_limit'),
    errorSleepSec: config.time('smtpd_error_sleep_time'),
    junkCommandLimit: config.int('smtpd_junk_command_limit'),
    recipientLimit: config.int('smtpd_recipient_limit'),
    delayReject: config.bool('smtpd_delay_reject'),
    heloRequired: config.bool('smtpd_helo_required'),
    peernameLookup: config.bool('smtpd_peername_lookup'),
    disableVrfy: config.bool('disable_vrfy_command'),
    smtputf8Enable: config.bool('smtputf8_enable'),
    discardEhloKeywords: config.list('smtpd_discard_ehlo_keywords').map((k) => k.toLowerCase()),
    forbiddenCommands: config
      .list('smtpd_forbidden_commands')
      .filter((k) => !k.includes(':'))
      .map((k) => k.toUpperCase()),
    forbiddenPatterns: config.list('smtpd_forbidden_commands').flatMap(inlineRegexps),
    bareNewline: bareNewlineMode(config),
    bareNewlineExclusions: config.list('smtpd_forbid_bare_newline_exclusions'),
    bareNewlineRejectCode: config.int('smtpd_forbid_bare_newline_reject_code'),
    forbidUnauthPipelining: config.bool('smtpd_forbid_unauth_pipelining'),
    connectionCountLimit: config.int('smtpd_client_connection_count_limit'),
    connectionRateLimit: config.int('smtpd_client_connection_rate_limit'),
    messageRateLimit: config.int('smtpd_client_message_rate_limit'),
    recipientRateLimit: config.int('smtpd_client_recipient_rate_limit'),
    eventLimitExceptions: config.list('smtpd_client_event_limit_exceptions'),
    authorizedXclientHosts: config.list('smtpd_authorized_xclient_hosts'),
    authorizedXforwardHosts: config.list('smtpd_authorized_xforward_hosts'),
    saslAuthEnable: config.bool('smtpd_sasl_auth_enable'),
    saslExceptionsNetworks: config.list('smtpd_sasl_exceptions_networks'),
    saslAuthenticatedHeader: config.bool('smtpd_sasl_authenticated_header'),
    brokenSaslAuthClients: config.bool('broken_sasl_auth_clients'),
    tlsReceivedHeader: config.bool('smtpd_tls_received_header'),
    clientPortLogging: config.bool('smtpd_client_port_logging'),
    upstreamProxy: upstreamProxy(config),
    upstreamProxyTimeoutSec: config.time('smtpd_upstream_proxy_timeout'),
    families: inetFamilies(config.list('inet_protocols')),
    service,
  };
}
