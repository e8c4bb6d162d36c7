// aliases(5) and .forward right-hand sides: a comma- or space-separated list
// whose items are addresses, `|command`, `/file/name`, `:include:/file` or
// `\user` (deliver to the mailbox, no further aliasing). Quotes keep commas
// and spaces inside an item (`"|/usr/bin/vacation -a joe"`).

export type AliasItem =
  | { readonly kind: 'command'; readonly command: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'include'; readonly path: string }
  | { readonly kind: 'address'; readonly address: string; readonly noAlias: boolean };

/** Split outside double quotes on commas; in .forward files whitespace separates too. */
function splitItems(value: string, spaces: boolean): string[] {
  const items: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] ?? '';
    if (c === '\\' && i + 1 < value.length && quoted) {
      cur += c + (value[++i] ?? '');
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (!quoted && (c === ',' || (spaces && /\s/.test(c)))) {
      if (cur.trim()) items.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim()) items.push(cur.trim());
  return items;
}

function unquoteWhole(item: string): string {
  if (item.length >= 2 && item.startsWith('"') && item.endsWith('"')) return item.slice(1, -1).replace(/\\(.)/g, '$1');
  return item;
}

export function classifyItem(raw: string): AliasItem | undefined {
  let item = unquoteWhole(raw.trim());
  // `<addr>` as people write it in .forward files
  if (item.startsWith('<') && item.endsWith('>')) item = item.slice(1, -1).trim();
  if (item === '') return undefined;
  if (item.startsWith('|')) {
    const command = item.slice(1).trim();
    return command ? { kind: 'command', command } : undefined;
  }
  if (item.toLowerCase().startsWith(':include:')) {
    const path = item.slice(':include:'.length).trim();
    return path ? { kind: 'include', path } : undefined;
  }
  if (item.startsWith('/')) return { kind: 'file', path: item };
  if (item.startsWith('\\')) return { kind: 'address', address: item.slice(1), noAlias: true };
  return { kind: 'address', address: item, noAlias: false };
}

/**
 * Items of an alias value (commas separate) or of a .forward/:include: file
 * (commas or whitespace separate, `#` comments, one or more lines).
 */
export function parseAliasValue(value: string, source: 'alias' | 'file'): AliasItem[] {
  const out: AliasItem[] = [];
  const lines = source === 'file' ? value.split('\n') : [value];
  for (const line of lines) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    // In files a quoted item may hold spaces ("|cmd arg"); unquoted whitespace separates.
    for (const raw of splitItems(t, source === 'file' && !/^\s*["|]/.test(t))) {
      const item = classifyItem(raw);
      if (item) out.push(item);
    }
  }
  return out;
}
