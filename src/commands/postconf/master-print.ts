// postconf -M / -F / -P output with optional service[/type[/field-or-param]]
// selectors, and Postfix's "unmatched request" warnings.
import type { MasterEntry } from '../../global/mastercf/types.js';
import { EditError } from './edit-main-cf.js';
import { FIELD_NAMES, fieldValue, formatEntry, formatParams, type FieldName } from './master-format.js';

export function printMaster(
  mode: 'M' | 'F' | 'P',
  entries: readonly MasterEntry[],
  selectors: readonly string[],
  fold: boolean,
): { lines: string[]; warnings: string[] } {
  const warnings: string[] = [];
  const picks: { entry: MasterEntry; item?: string }[] = [];
  const parsed = selectors.map((sel) => {
    const [svc, type, item] = sel.split('/');
    if (mode === 'F' && item !== undefined && !(FIELD_NAMES as readonly string[]).includes(item))
      throw new EditError(`invalid service attribute name: "${item}"`);
    return { sel, svc, type, item, hit: false };
  });
  // Output follows master.cf order, as Postfix walks the services and tests each request.
  for (const entry of entries) {
    if (!parsed.length) picks.push({ entry });
    for (const p of parsed) {
      if (entry.name !== p.svc || (p.type !== undefined && entry.type !== p.type)) continue;
      if (mode === 'P' && p.item !== undefined && !entry.overrides.has(p.item)) continue;
      p.hit = true;
      picks.push(p.item === undefined ? { entry } : { entry, item: p.item });
    }
  }
  for (const p of parsed) if (!p.hit) warnings.push(`unmatched request: "${p.sel}"`);
  const lines: string[] = [];
  for (const { entry, item } of picks) {
    const prefix = `${entry.name}/${entry.type}/`;
    if (mode === 'M') lines.push(formatEntry(entry, fold));
    else if (mode === 'F') {
      for (const field of item === undefined ? FIELD_NAMES : [item as FieldName]) {
        const v = fieldValue(entry, field);
        lines.push(v === '' ? `${prefix}${field} =` : `${prefix}${field} = ${v}`);
      }
    } else {
      const all = formatParams(entry);
      lines.push(...(item === undefined ? all : all.filter((l) => l.startsWith(`${prefix}${item} `))));
    }
  }
  return { lines, warnings };
}
