// The main.cf values cleanup(8) consults for every message (header limits,
// message_drop_headers, the missing-header and BCC settings, SMTPUTF8
// autodetection), read and parsed once per configuration instead of once per
// message: a Config never changes after it is read (`postfix reload` builds
// a new one, which gets its own settings). The same for each mail source's
// content_filter and receive_override_options.
import type { CleanupOpenRequest } from '../../global/queue/cleanup-api.js';
import type { ParamReader } from '../../global/params/types.js';
import { autodetectApplies } from './smtputf8-detect.js';

export interface CleanupSettings {
  readonly alwaysAddMissingHeaders: boolean;
  /** header_from_format: `standard` (name <address>) or `obsolete` (address (name)). */
  readonly fromFormat: 'standard' | 'obsolete';
  readonly myhostname: string;
  readonly headerSizeLimit: number;
  readonly hopcountLimit: number;
  /** header_address_token_limit. */
  readonly tokenLimit: number;
  /** message_drop_headers, lower case. */
  readonly dropHeaders: ReadonlySet<string>;
  /** undisclosed_recipients_header (empty: none). */
  readonly undisclosedHeader: string;
  /** remote_header_rewrite_domain is set: remote clients' header addresses are rewritten too. */
  readonly remoteHeaderRewrite: boolean;
  readonly duplicateFilterLimit: number;
  /** always_bcc, trimmed ('' for none). */
  readonly alwaysBcc: string;
  readonly bodyChecksSizeLimit: number;
  /** Whether smtputf8_autodetect_classes covers mail of this origin (false with smtputf8_enable = no). */
  autodetect(origin: CleanupOpenRequest['origin']): boolean;
}

const memo = new WeakMap<ParamReader, CleanupSettings>();

/** The settings of `cfg`; a bad value throws (ConfigError) on every call, as reading it did. */
export function cleanupSettings(cfg: ParamReader): CleanupSettings {
  let s = memo.get(cfg);
  if (s) return s;
  const autodetect = new Map<CleanupOpenRequest['origin'], boolean>();
  s = {
    alwaysAddMissingHeaders: cfg.bool('always_add_missing_headers'),
    fromFormat: cfg.get('header_from_format') === 'obsolete' ? 'obsolete' : 'standard',
    myhostname: cfg.get('myhostname'),
    headerSizeLimit: cfg.size('header_size_limit'),
    hopcountLimit: cfg.int('hopcount_limit'),
    tokenLimit: cfg.int('header_address_token_limit'),
    dropHeaders: new Set(cfg.list('message_drop_headers').map((h) => h.toLowerCase())),
    undisclosedHeader: cfg.get('undisclosed_recipients_header'),
    remoteHeaderRewrite: cfg.get('remote_header_rewrite_domain') !== '',
    duplicateFilterLimit: cfg.int('duplicate_filter_limit'),
    alwaysBcc: cfg.get('always_bcc').trim(),
    bodyChecksSizeLimit: cfg.size('body_checks_size_limit'),
    autodetect(origin) {
      let v = autodetect.get(origin);
      if (v === undefined) {
        v = autodetectApplies(cfg, origin);
        autodetect.set(origin, v);
      }
      return v;
    },
  };
  memo.set(cfg, s);
  return s;
}

const filters = new WeakMap<ParamReader, string>();

/** A mail source's content_filter, trimmed ('' for none). */
export function sourceContentFilter(source: ParamReader): string {
  let f = filters.get(source);
  if (f === undefined) {
    f = source.get('content_filter').trim();
    filters.set(source, f);
  }
  return f;
}
