// local(8) parameters read once per agent (and again on reload): the
// postconf(5) names and Postfix 3.7 defaults come from the registry.
import type { ParamReader } from '../../global/params/types.js';
import type { LockSettings } from './mail-writer.js';

export interface LocalSettings {
  readonly aliasMaps: readonly string[];
  readonly forwardPath: readonly string[];
  readonly allowCommands: ReadonlySet<string>;
  readonly allowFiles: ReadonlySet<string>;
  readonly homeMailbox: string;
  readonly spoolDir: string;
  readonly mailboxCommand: string;
  readonly mailboxCommandMaps: readonly string[];
  readonly mailboxTransport: string;
  readonly mailboxTransportMaps: readonly string[];
  readonly fallbackTransport: string;
  readonly fallbackTransportMaps: readonly string[];
  readonly luserRelay: string;
  readonly mailboxSizeLimit: number;
  readonly lock: LockSettings;
  readonly recipientDelimiter: string;
  readonly ownerRequestSpecial: boolean;
  readonly expandOwnerAlias: boolean;
  readonly prependDelivered: ReadonlySet<string>;
  readonly originalRecipient: boolean;
  readonly defaultPrivs: string;
  readonly commandShell: string;
  readonly commandTimeLimit: number;
  readonly commandDirectory: string;
  readonly exportEnvironment: readonly string[];
  readonly commandFilter: string;
  readonly forwardFilter: string;
  readonly myorigin: string;
  readonly myhostname: string;
  readonly mydestination: readonly string[];
  readonly requireHome: boolean;
  readonly strictOwnership: boolean;
  readonly duplicateFilterLimit: number;
}

/** Parameters whose list items may carry `$name` text that must not be split (forward_path). */
function commaList(v: string): string[] {
  return v
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function localSettings(c: ParamReader): LocalSettings {
  return {
    aliasMaps: c.list('alias_maps'),
    forwardPath: commaList(rawOrGet(c, 'forward_path')),
    allowCommands: new Set(c.list('allow_mail_to_commands').map((s) => s.toLowerCase())),
    allowFiles: new Set(c.list('allow_mail_to_files').map((s) => s.toLowerCase())),
    homeMailbox: c.get('home_mailbox'),
    spoolDir: c.get('mail_spool_directory'),
    mailboxCommand: c.get('mailbox_command'),
    mailboxCommandMaps: c.list('mailbox_command_maps'),
    mailboxTransport: c.get('mailbox_transport'),
    mailboxTransportMaps: c.list('mailbox_transport_maps'),
    fallbackTransport: c.get('fallback_transport'),
    fallbackTransportMaps: c.list('fallback_transport_maps'),
    luserRelay: rawOrGet(c, 'luser_relay'),
    mailboxSizeLimit: c.size('mailbox_size_limit'),
    lock: {
      methods: c.list('mailbox_delivery_lock').map((s) => s.toLowerCase()),
      attempts: c.int('deliver_lock_attempts'),
      delaySeconds: c.time('deliver_lock_delay'),
      staleSeconds: c.time('stale_lock_time'),
    },
    recipientDelimiter: c.get('recipient_delimiter'),
    ownerRequestSpecial: c.bool('owner_request_special'),
    expandOwnerAlias: c.bool('expand_owner_alias'),
    prependDelivered: new Set(c.list('prepend_delivered_header').map((s) => s.toLowerCase())),
    originalRecipient: c.bool('enable_original_recipient'),
    defaultPrivs: c.get('default_privs'),
    commandShell: c.get('local_command_shell'),
    commandTimeLimit: c.time('command_time_limit'),
    commandDirectory: c.get('command_execution_directory'),
    exportEnvironment: c.list('export_environment'),
    commandFilter: c.get('command_expansion_filter'),
    forwardFilter: c.get('forward_expansion_filter'),
    myorigin: c.get('myorigin'),
    myhostname: c.get('myhostname'),
    mydestination: c.list('mydestination').map((s) => s.toLowerCase()),
    requireHome: c.bool('require_home_directory'),
    strictOwnership: c.bool('strict_mailbox_ownership'),
    duplicateFilterLimit: c.int('duplicate_filter_limit'),
  };
}

/**
 * forward_path and luser_relay hold local(8)'s own `$user`, `$home`, ...
 * which main.cf expansion does not know; they are expanded per recipient
 * (delivery-vars.ts). The registry reader expands known names and keeps the
 * rest, so get() is what we want unless it failed on an unknown name.
 */
function rawOrGet(c: ParamReader, name: string): string {
  try {
    return c.get(name);
  } catch {
    return '';
  }
}
