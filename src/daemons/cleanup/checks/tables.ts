// Opening the lookup tables named by header_checks, mime_header_checks,
// nested_header_checks and body_checks. Each parameter may list several
// tables; the first one that answers decides, as with Postfix's maps.
import type { Dict } from '../../../global/dict/dict-api.js';
import type { ParamReader } from '../../../global/params/types.js';

export interface CheckTables {
  readonly header: readonly Dict[];
  readonly mime: readonly Dict[];
  readonly nested: readonly Dict[];
  readonly body: readonly Dict[];
}

async function openList(config: ParamReader, name: string, open: (spec: string) => Promise<Dict>): Promise<Dict[]> {
  const out: Dict[] = [];
  for (const spec of config.list(name)) out.push(await open(spec));
  return out;
}

/** Opens every table; a table that cannot be opened throws (cleanup then cannot start, as in Postfix). */
export async function openCheckTables(
  config: ParamReader,
  open: (spec: string) => Promise<Dict>,
): Promise<CheckTables> {
  return {
    header: await openList(config, 'header_checks', open),
    mime: await openList(config, 'mime_header_checks', open),
    nested: await openList(config, 'nested_header_checks', open),
    body: await openList(config, 'body_checks', open),
  };
}
