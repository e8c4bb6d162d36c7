// createContentChecks(): the real CleanupContentChecks for cleanup(8) —
// header_checks, mime_header_checks, nested_header_checks and body_checks
// with Postfix's MIME awareness and the strict_* / mime_* safety limits,
// read from main.cf once when the cleanup service starts.
import type { Dict } from '../../../global/dict/dict-api.js';
import { openDict as openDictDefault } from '../../../global/dict/open.js';
import type { Logger } from '../../../global/log/logger.js';
import type { ParamReader } from '../../../global/params/types.js';
import type { CleanupContentChecks, ContentInspection, ContentInspectionInput, ContentVerdict } from '../hooks.js';
import { parseAction } from './actions.js';
import { Inspector, inspectsNothing, type InspectorSettings } from './inspector.js';
import type { MimeErrorCode } from './mime-scan.js';
import { openCheckTables } from './tables.js';

export interface ContentChecksOptions {
  /** The cleanup service's configuration (main.cf with its master.cf `-o` overrides). */
  readonly config: ParamReader;
  /** `type:name` → table; defaults to the shared openDict() cache with `config`. */
  readonly openDict?: (spec: string) => Promise<Dict>;
  /** `postfix/cleanup`: action lines and configuration warnings go here. */
  readonly logger: Logger;
}

/** Postfix's line_length_limit minimum; body records are never cut shorter. */
const MIN_LINE = 80;

function settings(config: ParamReader, tables: InspectorSettings['tables']): InspectorSettings {
  const mime = !config.bool('disable_mime_input_processing');
  const strict = config.bool('strict_8bitmime');
  const report = new Set<MimeErrorCode>();
  if (mime) {
    if (strict || config.bool('strict_7bit_headers')) report.add('8bit-header');
    if (strict || config.bool('strict_8bitmime_body')) report.add('8bit-body');
    if (config.bool('strict_mime_encoding_domain')) report.add('encoding-domain');
    // Nesting is enforced whenever anything depends on the structure.
    if (report.size > 0 || tables.header.length + tables.mime.length + tables.nested.length > 0) report.add('nesting');
  }
  const headerSizeLimit = config.size('header_size_limit');
  return {
    tables,
    bodyLimit: config.size('body_checks_size_limit'),
    headerSizeLimit,
    scan: {
      mime,
      boundaryLimit: Math.max(1, config.int('mime_boundary_length_limit')),
      nestingLimit: Math.max(1, config.int('mime_nesting_limit')),
      headerSizeLimit: headerSizeLimit > 0 ? headerSizeLimit : 102400,
      lineLimit: Math.max(MIN_LINE, config.int('line_length_limit')),
      report,
    },
  };
}

export async function createContentChecks(opts: ContentChecksOptions): Promise<CleanupContentChecks> {
  const open =
    opts.openDict ??
    ((spec: string) => openDictDefault(spec, { config: opts.config, warn: (t) => opts.logger.warning(t) }));
  const tables = await openCheckTables(opts.config, open);
  const s = settings(opts.config, tables);
  // receive_override_options=no_header_body_checks: the same MIME walk with no tables.
  const bare = settings(opts.config, { header: [], mime: [], nested: [], body: [] });

  /** The per-line interface, kept for callers without inspect(): no MIME structure, no envelope effects. */
  const simple = async (
    list: readonly Dict[],
    key: string,
    isHeader: boolean,
    mapName: string,
  ): Promise<ContentVerdict> => {
    for (const dict of list) {
      const value = await dict.lookup(key);
      if (value === undefined) continue;
      const { action, warning } = parseAction(value, isHeader, mapName);
      if (warning !== undefined) opts.logger.warning(warning);
      switch (action.kind) {
        case 'reject':
          return { action: 'reject', reply: action.reply };
        case 'discard':
        case 'hold':
          return { action: action.kind, text: action.text };
        case 'ignore':
          return { action: 'ignore' };
        case 'replace':
          return { action: 'replace', text: action.text };
        default:
          return { action: 'dunno' };
      }
    }
    return { action: 'dunno' };
  };

  return {
    header: (text) => simple(tables.header, text, true, 'header_checks'),
    body: (line) => simple(tables.body, line, false, 'body_checks'),
    inert: (skipTables: boolean) => inspectsNothing(skipTables ? bare : s),
    inspect: (input: ContentInspectionInput): Promise<ContentInspection> =>
      new Inspector(input.skipTables ? bare : s, opts.logger, input.ctx).run(input),
  };
}
