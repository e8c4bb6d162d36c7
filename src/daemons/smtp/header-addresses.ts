// Finding and replacing the addresses inside an address header (From:, To:,
// Cc:, ...) for smtp(8)'s smtp_generic_maps. The value is cut into RFC 5322
// tokens; each mailbox's addr-spec (inside `<...>` after an optional source
// route, or standing alone) is reported with its byte span, so a rewrite can
// replace just that span and leave display names, comments and folding as
// they were. Group syntax (`name: a, b;`) and empty groups are understood.
// The tokens come from the one RFC 5322 tokenizer cleanup uses too.
import { tokenize as headerTokens } from '../../global/addr/header-tokens.js';

/** One addr-spec found in a header value. */
export interface AddressSpan {
  /** Offset of its first character in the value. */
  readonly start: number;
  /** Offset just past its last character. */
  readonly end: number;
  /** Postfix's internal form: the local part unquoted, `local@domain`. */
  readonly address: string;
}

type TokenKind = 'atom' | 'quoted' | 'literal' | 'special';
interface Token {
  readonly kind: TokenKind;
  /** Quoted strings and domain literals with their quoting undone: `"a b"` → `a b`. */
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** At most this many tokens are considered: a header is bounded by header_size_limit anyway. */
const TOKEN_LIMIT = 20000;

/** The inside of a quoted string or domain literal, backslash escapes undone (an unclosed one runs to the end). */
function unquote(raw: string, close: string): string {
  const inner = raw.endsWith(close) && raw.length > 1 ? raw.slice(1, -1) : raw.slice(1);
  return inner.replace(/\\(.)/gs, '$1');
}

/** The shared RFC 5322 tokens of a header value in the form address matching wants: comments dropped, quotes undone. */
function tokenize(value: string): Token[] {
  const out: Token[] = [];
  for (const t of headerTokens(value, TOKEN_LIMIT)) {
    const { start, end } = t;
    if (t.type === 'comment') continue;
    if (t.type === 'qstring') out.push({ kind: 'quoted', text: unquote(t.text, '"'), start, end });
    else if (t.type === 'domlit') out.push({ kind: 'literal', text: `[${unquote(t.text, ']')}]`, start, end });
    else out.push({ kind: t.type === 'op' ? 'special' : 'atom', text: t.text, start, end });
  }
  return out;
}

const isSpecial = (t: Token | undefined, ch: string): boolean => t?.kind === 'special' && t.text === ch;

/** The addr-spec in a run of tokens, if it has the shape `local@domain`. */
function addrSpec(tokens: readonly Token[]): AddressSpan | undefined {
  const at = tokens.map((t) => isSpecial(t, '@')).lastIndexOf(true);
  if (at <= 0 || at === tokens.length - 1) return undefined;
  const local = tokens.slice(0, at);
  const domain = tokens.slice(at + 1);
  const localOk = local.every((t) => t.kind === 'atom' || t.kind === 'quoted' || isSpecial(t, '.'));
  const domainOk = domain.every((t) => t.kind === 'atom' || t.kind === 'literal' || isSpecial(t, '.'));
  if (!localOk || !domainOk) return undefined;
  const first = tokens[0] as Token;
  const last = tokens[tokens.length - 1] as Token;
  const text = (ts: readonly Token[]): string => ts.map((t) => t.text).join('');
  return { start: first.start, end: last.end, address: `${text(local)}@${text(domain)}` };
}

/** Every addr-spec in an address-list header value, in order. */
export function findAddresses(value: string): AddressSpan[] {
  const tokens = tokenize(value);
  const out: AddressSpan[] = [];
  let segment: Token[] = [];
  let angle: Token[] | undefined;
  const flush = (): void => {
    const spec = angle ?? segment;
    // A source route (`<@a,@b:user@c>`) is obsolete syntax; only the final address counts.
    const colon = angle ? spec.map((t) => isSpecial(t, ':')).lastIndexOf(true) : -1;
    const found = addrSpec(spec.slice(colon + 1));
    if (found) out.push(found);
    segment = [];
    angle = undefined;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (isSpecial(t, '<')) {
      const inner: Token[] = [];
      for (i++; i < tokens.length && !isSpecial(tokens[i], '>'); i++) inner.push(tokens[i] as Token);
      angle = inner;
    } else if (isSpecial(t, ',') || isSpecial(t, ';')) {
      flush();
    } else if (isSpecial(t, ':')) {
      // `group-name:` starts a group; what came before was its display name.
      segment = [];
    } else {
      segment.push(t);
    }
  }
  flush();
  return out;
}

const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/;

/** The local part as it must be written in a message: quoted unless it is a dot-atom. */
export function externalAddress(address: string): string {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  const domain = at < 0 ? '' : address.slice(at);
  const dotAtom = local.split('.').every((p) => ATEXT.test(p));
  if (dotAtom || local === '') return address;
  return `"${local.replace(/(["\\])/g, '\\$1')}"${domain}`;
}

/**
 * The value with each address replaced by `map(address)` where that gives a
 * new one; `changed` says whether anything was replaced.
 */
export function rewriteAddresses(
  value: string,
  map: (address: string) => string | undefined,
): { value: string; changed: boolean } {
  let out = '';
  let last = 0;
  let changed = false;
  for (const span of findAddresses(value)) {
    const next = map(span.address);
    if (next === undefined || next === span.address) continue;
    out += value.slice(last, span.start) + externalAddress(next);
    last = span.end;
    changed = true;
  }
  return { value: changed ? out + value.slice(last) : value, changed };
}
