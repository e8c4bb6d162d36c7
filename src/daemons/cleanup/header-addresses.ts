// cleanup(8)'s rewriting of addresses inside message headers
// (ADDRESS_REWRITING_README): in sender headers (From:, Sender:, Reply-To:,
// ...) and recipient headers (To:, Cc:, ...) each address is put in
// standard form by trivial-rewrite in the "local" context for local
// submissions and local_header_rewrite_clients, in the "remote" context
// (only $remote_header_rewrite_domain appended) for other clients when that
// parameter is set, and not at all otherwise; canonical maps and
// masquerading then apply per their header classes. A header is rebuilt only
// when an address in it changed, and then as Postfix rebuilds it (spacing
// normalised, refolded); an unchanged header keeps its exact bytes.
import { externalAddress, internalAddress, splitAddress } from '../../global/addr/address.js';
import { tokenize, type Token } from '../../global/addr/header-tokens.js';
import type { LogicalHeader } from './header-parse.js';

const SENDER_HEADERS: ReadonlySet<string> = new Set([
  'from',
  'sender',
  'reply-to',
  'errors-to',
  'return-receipt-to',
  'resent-from',
  'resent-sender',
  'resent-reply-to',
]);
const RECIPIENT_HEADERS: ReadonlySet<string> = new Set([
  'to',
  'cc',
  'bcc',
  'apparently-to',
  'resent-to',
  'resent-cc',
  'resent-bcc',
]);

export type HeaderAddressKind = 'sender' | 'recipient';

/** One address's new internal form (trivial-rewrite, canonical, masquerade). */
export type HeaderAddressRewriter = (address: string, kind: HeaderAddressKind) => Promise<string>;

/** An element of the rebuilt header: a whole address, or one token around addresses. */
type Item =
  | { readonly kind: 'addr'; readonly text: string; readonly start: number; readonly end: number; out: string }
  | { readonly kind: 'tok'; readonly tok: Token; readonly group?: boolean };

function addrItem(toks: readonly Token[]): Item | undefined {
  const first = toks[0];
  const last = toks[toks.length - 1];
  if (!first || !last) return undefined;
  const text = toks.map((t) => t.text).join('');
  return { kind: 'addr', text, start: first.start, end: last.end, out: text };
}

const tokItem = (t: Token): Item => ({ kind: 'tok', tok: t });

/** One mailbox (between commas): display name and comments as tokens, its address as one item. */
function mailbox(toks: readonly Token[], items: Item[]): void {
  const lt = toks.findIndex((t) => t.type === 'op' && t.text === '<');
  if (lt < 0) {
    const lead = Math.max(
      0,
      toks.findIndex((t) => t.type !== 'comment'),
    );
    items.push(...toks.slice(0, lead).map(tokItem));
    const a = addrItem(toks.filter((t) => t.type !== 'comment'));
    if (a) items.push(a);
    items.push(
      ...toks
        .slice(lead)
        .filter((t) => t.type === 'comment')
        .map(tokItem),
    );
    return;
  }
  items.push(...toks.slice(0, lt + 1).map(tokItem));
  const gtRel = toks.slice(lt + 1).findIndex((t) => t.type === 'op' && t.text === '>');
  const gt = gtRel < 0 ? toks.length : lt + 1 + gtRel;
  // An obsolete source route (`<@a,@b:user@c>`) belongs to the address; trivial-rewrite drops it.
  const a = addrItem(toks.slice(lt + 1, gt).filter((t) => t.type !== 'comment'));
  if (a) items.push(a);
  items.push(...toks.slice(gt).map(tokItem));
}

/** The header value as Postfix's token tree sees it: addresses grouped, everything else token by token. */
function parseItems(value: string, limit: number): { items: Item[]; tokens: number } {
  const items: Item[] = [];
  let current: Token[] = [];
  let depth = 0; // inside <...>
  const tokens = tokenize(value, limit);
  for (const t of tokens) {
    const op = t.type === 'op' ? t.text : '';
    if (op === '<') depth++;
    else if (op === '>') depth = Math.max(0, depth - 1);
    if (depth === 0 && (op === ',' || op === ';')) {
      mailbox(current, items);
      items.push(tokItem(t));
      current = [];
    } else if (depth === 0 && op === ':') {
      // A group's display name is a phrase, not an address.
      items.push(...current.map(tokItem));
      items.push({ kind: 'tok', tok: t, group: true });
      current = [];
    } else current.push(t);
  }
  mailbox(current, items);
  return { items, tokens: tokens.length };
}

/** The address spans of a header value: each mailbox's addr-spec (inside `<>` when present). */
export function addressSpans(value: string, limit: number): { start: number; end: number; text: string }[] {
  return parseItems(value, limit).items.flatMap((i) =>
    i.kind === 'addr' ? [{ start: i.start, end: i.end, text: i.text }] : [],
  );
}

const nonOperator = (i: Item): boolean => i.kind === 'addr' || i.tok.type !== 'op';

/**
 * Rebuild a header whose addresses changed the way Postfix does: tokens
 * separated by single spaces where Postfix puts them, one line per address
 * joined again while the line stays under 70 characters, continuation
 * lines starting with a TAB.
 */
function externalize(name: string, items: readonly Item[]): string {
  let text = '';
  for (const [n, item] of items.entries()) {
    const next = items[n + 1];
    text += item.kind === 'addr' ? item.out : item.tok.text;
    if (item.kind === 'tok' && item.tok.text === ',') {
      text += '\n';
      continue;
    }
    if (!next) continue;
    const space =
      (item.kind === 'tok' && item.group === true) ||
      (next.kind === 'tok' && next.tok.text === '<') ||
      (nonOperator(item) && nonOperator(next));
    if (space) text += ' ';
  }
  const pieces = `${name}: ${text}`.split('\n');
  const lines: string[] = [];
  let line = pieces[0] ?? '';
  for (const piece of pieces.slice(1)) {
    if (line.length + 1 + piece.length < 70) line += ` ${piece}`;
    else {
      lines.push(line);
      line = piece;
    }
  }
  lines.push(line);
  return `${lines.join('\r\n\t')}\r\n`;
}

function kindOf(h: LogicalHeader): HeaderAddressKind | undefined {
  if (SENDER_HEADERS.has(h.lname)) return 'sender';
  if (RECIPIENT_HEADERS.has(h.lname)) return 'recipient';
  return undefined;
}

/** The headers with their addresses rewritten; unchanged headers are returned as they were. */
export async function rewriteHeaderAddresses(
  headers: readonly LogicalHeader[],
  rewrite: HeaderAddressRewriter,
  tokenLimit: number,
  /** Collects the headers returned unchanged that have fewer than `tokenLimit` tokens. */
  withinLimit?: Set<LogicalHeader>,
): Promise<LogicalHeader[]> {
  const out: LogicalHeader[] = [];
  for (const h of headers) {
    const kind = kindOf(h);
    if (!kind) {
      out.push(h);
      continue;
    }
    const raw = h.raw.toString('utf8');
    const value = raw.slice(raw.indexOf(':') + 1);
    const { items, tokens } = parseItems(value, tokenLimit > 0 ? tokenLimit : Number.MAX_SAFE_INTEGER);
    let changed = false;
    for (const item of items) {
      if (item.kind !== 'addr') continue;
      const before = internalAddress(item.text);
      const after = await rewrite(before, kind);
      if (after === before || after === '') continue;
      const { local, domain, hasAt } = splitAddress(after);
      item.out = externalAddress(local, hasAt ? domain : '');
      changed = true;
    }
    if (changed) out.push({ ...h, raw: Buffer.from(externalize(h.name, items), 'utf8'), rebuilt: true });
    else {
      // Fewer tokens than the limit: the header pass need not count them again.
      if (withinLimit && tokenLimit > 0 && tokens < tokenLimit) withinLimit.add(h);
      out.push(h);
    }
  }
  return out;
}
