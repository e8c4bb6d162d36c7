// Small parsers for the text of a table name: `{ ... }` grouping as used by
// inline:, static:, unionmap:, pipemap:, randmap: (Postfix's extpar()/mystrtokq()).
import { splitList } from '../params/config.js';

/** `{ text }` → `text` trimmed; undefined when the braces are missing or unbalanced. */
export function stripBraces(text: string): string | undefined {
  const t = text.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) return undefined;
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '{') depth++;
    else if (t[i] === '}') {
      depth--;
      if (depth === 0 && i !== t.length - 1) return undefined;
    }
  }
  return depth === 0 ? t.slice(1, -1).trim() : undefined;
}

/** Split on commas and whitespace outside braces; `{ a b }` stays one item. */
export const splitBraceList = splitList;

/** `type:name` split at the first colon; undefined when there is no type. */
export function splitSpec(spec: string): { type: string; name: string } | undefined {
  const colon = spec.indexOf(':');
  if (colon <= 0) return undefined;
  return { type: spec.slice(0, colon), name: spec.slice(colon + 1) };
}
