// cleanup(8)'s rewriting of addresses inside message headers
// (ADDRESS_REWRITING_README): in sender headers (From:, Sender:, Reply-To:,
// ...) and recipient headers (To:, Cc:, ...) each address is put in
// standard form by trivial-rewrite in the "local" context for local
// submissions and local_header_rewrite_clients, in the "remote" context
// (only $remote_header_rewrite_domain appended) for other clients when that
// parameter is set, and not at all otherwise; canonical maps and
// masquerading then apply per their header classes. A header is rebuilt only
// when an address in it changed, and only the address text is replaced, so
// display names, comments and folding stay as the sender wrote them.
import { externalAddress, internalAddress, splitAddress } from '../../global/addr/address.js';
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

interface Token {
  readonly kind: 'word' | 'comment' | 'special';
  readonly start: number;
  readonly end: number;
}

const SPECIALS = '()<>@,;:\\".[]';

/** RFC 5322 tokens of a header value, at most `limit` (header_address_token_limit). */
function tokenize(value: string, limit: number): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = value.length;
  while (i < n && out.length < limit) {
    const c = value.charAt(i);
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    const start = i;
    if (c === '"' || c === '(' || c === '[') {
      const close = c === '"' ? '"' : c === '(' ? ')' : ']';
      let depth = 1;
      i++;
      while (i < n && depth > 0) {
        const d = value.charAt(i);
        if (d === '\\') i++;
        else if (c === '(' && d === '(') depth++;
        else if (d === close) depth--;
        i++;
      }
      out.push({ kind: c === '(' ? 'comment' : 'word', start, end: Math.min(i, n) });
    } else if (SPECIALS.includes(c)) {
      i++;
      out.push({ kind: c === '.' || c === '@' ? 'word' : 'special', start, end: i });
    } else {
      while (i < n && !SPECIALS.includes(value.charAt(i)) && !/[ \t\r\n]/.test(value.charAt(i))) i++;
      out.push({ kind: 'word', start, end: i });
    }
  }
  return out;
}

/** The address spans of a header value: each mailbox's addr-spec (inside `<>` when present). */
export function addressSpans(value: string, limit: number): { start: number; end: number; text: string }[] {
  const spans: { start: number; end: number; text: string }[] = [];
  let words: Token[] = [];
  let angle: Token[] | undefined;
  let angleDone = false;
  const flush = (): void => {
    let addr = angleDone ? (angle ?? []) : words;
    // An obsolete source route (`<@a,@b:user@c>`) is not part of the address.
    const colon = addr.findIndex((t) => value.slice(t.start, t.end) === ':');
    if (angleDone && colon >= 0) addr = addr.slice(colon + 1);
    addr = addr.filter((t) => t.kind === 'word');
    const first = addr[0];
    const last = addr[addr.length - 1];
    if (first && last) {
      spans.push({
        start: first.start,
        end: last.end,
        text: addr.map((t) => value.slice(t.start, t.end)).join(''),
      });
    }
    words = [];
    angle = undefined;
    angleDone = false;
  };
  for (const t of tokenize(value, limit)) {
    const s = value.slice(t.start, t.end);
    if (angle && !angleDone) {
      if (s === '>') angleDone = true;
      else angle.push(t);
      continue;
    }
    if (t.kind === 'comment') continue;
    if (s === '<') angle = [];
    else if (s === ',' || s === ';') flush();
    else if (s === ':')
      words = []; // a group's display name
    else if (!angleDone) words.push(t);
  }
  flush();
  return spans;
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
): Promise<LogicalHeader[]> {
  const out: LogicalHeader[] = [];
  for (const h of headers) {
    const kind = kindOf(h);
    if (!kind) {
      out.push(h);
      continue;
    }
    const raw = h.raw.toString('utf8');
    const colon = raw.indexOf(':');
    let value = raw.slice(colon + 1);
    let changed = false;
    const spans = addressSpans(value, tokenLimit > 0 ? tokenLimit : Number.MAX_SAFE_INTEGER);
    for (const span of spans.reverse()) {
      const before = internalAddress(span.text);
      const after = await rewrite(before, kind);
      if (after === before || after === '') continue;
      const { local, domain, hasAt } = splitAddress(after);
      const text = externalAddress(local, hasAt ? domain : '');
      value = value.slice(0, span.start) + text + value.slice(span.end);
      changed = true;
    }
    out.push(changed ? { ...h, raw: Buffer.from(raw.slice(0, colon + 1) + value, 'utf8') } : h);
  }
  return out;
}
