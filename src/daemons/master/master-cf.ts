// master(8)'s view of master.cf(5): the config area's parser
// (global/mastercf/parse.ts) with problems tagged by file, split into fatal
// ones (master refuses to start or reload) and warnings (logged).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMasterCf } from '../../global/mastercf/parse.js';
import type { MasterEntry } from '../../global/mastercf/types.js';

export interface MasterCfProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface MasterCf {
  readonly file: string;
  readonly entries: MasterEntry[];
  /** Fatal problems: the file must not be used. */
  readonly problems: MasterCfProblem[];
  readonly warnings: MasterCfProblem[];
}

/** Reads `dir/master.cf`; a missing file throws (ENOENT), as for master. */
export function readMasterCf(dir: string): MasterCf {
  const file = join(dir, 'master.cf');
  return parseMasterCfText(readFileSync(file, 'utf8'), file);
}

export function parseMasterCfText(text: string, file = 'master.cf'): MasterCf {
  const parsed = parseMasterCf(text, file);
  const tag = (p: { line: number; message: string }): MasterCfProblem => ({ file, line: p.line, message: p.message });
  const problems = parsed.problems.filter((p) => p.fatal).map(tag);
  const warnings = parsed.problems.filter((p) => !p.fatal).map(tag);
  // master.cf(5): a service is identified by name and type; a second one would be ambiguous.
  const seen = new Set<string>();
  for (const e of parsed.entries) {
    const id = `${e.name}/${e.type}`;
    if (seen.has(id)) problems.push({ file, line: e.line, message: `duplicate service name/type: ${id}` });
    seen.add(id);
  }
  return { file, entries: parsed.entries, problems, warnings };
}
