// Lazy `$name` expansion as postconf(5) defines it: `$name`, `${name}`,
// `$(name)`, `${name?value}`, `${name:value}`, the `{value}` forms, and the
// 3.x comparison `${{a} op {b} ? {t} : {f}}`. Values are expanded at use time,
// so a parameter may be used before it is defined; recursion is reported.

export type Lookup = (name: string) => string | undefined;

export class ExpansionError extends Error {
  override name = 'ExpansionError';
}

/** A parameter whose value uses itself, directly or through others. */
export class RecursionError extends ExpansionError {
  override name = 'RecursionError';
  constructor(
    readonly param: string,
    readonly chain: readonly string[],
  ) {
    super(`unreasonable macro call nesting: "${param}" (${chain.join(' -> ')})`);
  }
}

const MAX_DEPTH = 100;
/** No real parameter value comes near this; a doubling chain of names would. */
const MAX_LENGTH = 16 * 1024 * 1024;
const REPORT_DEPTH = 100;

/**
 * Names already expanded during the outermost expand() call, per lookup
 * function: `a = $b $b`, `b = $c $c`, ... would otherwise cost 2^depth.
 * Expansion is synchronous, so the memo lives exactly as long as that call.
 */
let memos: Map<Lookup, Map<string, string>> | undefined;

/** Expand `text`, looking names up through `lookup` (which returns unexpanded text). */
export function expand(text: string, lookup: Lookup, stack: string[] = []): string {
  if (memos) return expandText(text, lookup, stack);
  memos = new Map();
  try {
    return expandText(text, lookup, stack);
  } finally {
    memos = undefined;
  }
}

function expandText(text: string, lookup: Lookup, stack: string[]): string {
  if (!text.includes('$')) return text;
  if (stack.length > MAX_DEPTH) throw new ExpansionError(`recursion limit exceeded expanding ${stack[0] ?? ''}`);
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{' || next === '(') {
      const close = next === '{' ? '}' : ')';
      const end = findClose(text, i + 1, next, close);
      if (end < 0) throw new ExpansionError(`missing '${close}' in "${text}"`);
      out += expandBraced(text.slice(i + 2, end), lookup, stack);
      i = end + 1;
      continue;
    }
    const m = /^[A-Za-z0-9_]+/.exec(text.slice(i + 1));
    if (!m) throw new ExpansionError(`empty macro name: "${text}"`);
    out += expandName(m[0], lookup, stack);
    i += 1 + m[0].length;
  }
  return out;
}

function expandName(name: string, lookup: Lookup, stack: string[]): string {
  const k = stack.indexOf(name);
  if (k >= 0) {
    // Postfix gives up at a fixed nesting depth and names the parameter found there;
    // walking the cycle to that depth reports the same name.
    const cycle = stack.slice(k);
    throw new RecursionError(cycle[(REPORT_DEPTH - k) % cycle.length] ?? name, [...stack, name]);
  }
  let memo = memos?.get(lookup);
  if (!memo) {
    memo = new Map();
    memos?.set(lookup, memo);
  }
  const known = memo.get(name);
  if (known !== undefined) return known;
  const raw = lookup(name);
  if (raw === undefined) return '';
  const value = expand(raw, lookup, [...stack, name]);
  if (value.length > MAX_LENGTH) throw new ExpansionError(`expansion of $${name} too long`);
  memo.set(name, value);
  return value;
}

/** Index of the bracket that closes the one at `open`, honouring nesting. */
function findClose(text: string, open: number, o: string, c: string): number {
  let depth = 0;
  for (let j = open; j < text.length; j++) {
    if (text[j] === o) depth++;
    else if (text[j] === c) {
      depth--;
      if (depth === 0) return j;
    }
  }
  return -1;
}

function unbrace(v: string): string {
  const t = v.trim();
  return t.startsWith('{') && t.endsWith('}') ? t.slice(1, -1) : v;
}

function expandBraced(inner: string, lookup: Lookup, stack: string[]): string {
  if (inner.trimStart().startsWith('{')) return expandComparison(inner, lookup, stack);
  const m = /^([A-Za-z0-9_]+)\s*(?:([?:])([\s\S]*))?$/.exec(inner);
  if (!m) throw new ExpansionError(`bad parameter expression: \${${inner}}`);
  const [, name = '', op, rest = ''] = m;
  const value = expandName(name, lookup, stack);
  if (op === undefined) return value;
  const branches = splitBranches(rest);
  if (op === '?' && branches) {
    // `${name?{t}:{f}}` — the two-branch form.
    return expand(value !== '' ? branches[0] : branches[1], lookup, stack);
  }
  if (op === '?') return value !== '' ? expand(unbrace(rest), lookup, stack) : '';
  // `${name:value}` is value when $name is empty or undefined, and empty otherwise.
  return value === '' ? expand(unbrace(rest), lookup, stack) : '';
}

/** `{t}:{f}` (whitespace allowed around the parts) → [t, f], honouring nested braces; else undefined. */
function splitBranches(rest: string): [string, string] | undefined {
  const t = rest.trim();
  if (!t.startsWith('{')) return undefined;
  const end1 = findClose(t, 0, '{', '}');
  if (end1 < 0) return undefined;
  const after = t.slice(end1 + 1).trimStart();
  if (!after.startsWith(':')) return undefined;
  const second = after.slice(1).trim();
  if (!second.startsWith('{') || findClose(second, 0, '{', '}') !== second.length - 1) return undefined;
  return [t.slice(1, end1), second.slice(1, -1)];
}

const OPS = new Set(['==', '!=', '<', '<=', '>', '>=', '==level', '!=level', '<level', '<=level', '>level', '>=level']);

function expandComparison(inner: string, lookup: Lookup, stack: string[]): string {
  const parts: string[] = [];
  let rest = inner.trim();
  const take = (): string => {
    const end = findClose(rest, 0, '{', '}');
    if (!rest.startsWith('{') || end < 0) throw new ExpansionError(`bad comparison: \${${inner}}`);
    const v = rest.slice(1, end);
    rest = rest.slice(end + 1).trim();
    return v;
  };
  // Operands are compared as written (no trimming): `{ 10 }` is text, `{10}` a number.
  const left = expand(take(), lookup, stack);
  const opM = /^(==level|!=level|<=level|>=level|<level|>level|==|!=|<=|>=|<|>)\s*/.exec(rest) ?? /^(\S*)/.exec(rest);
  const op = opM?.[1] ?? '';
  if (!OPS.has(op)) throw new ExpansionError(`unknown operator '${op}' in \${${inner}}`);
  rest = rest.slice(opM?.[0].length ?? 0);
  const right = expand(take(), lookup, stack);
  if (!rest.startsWith('?')) throw new ExpansionError(`missing '?' in \${${inner}}`);
  rest = rest.slice(1).trim();
  parts.push(take());
  if (rest.startsWith(':')) {
    rest = rest.slice(1).trim();
    parts.push(take());
  }
  const truth = compare(left, op, right);
  return expand((truth ? parts[0] : parts[1]) ?? '', lookup, stack).trim();
}

function compare(a: string, op: string, b: string): boolean {
  if (op.endsWith('level')) {
    const c = compareLevel(a, b);
    switch (op) {
      case '==level':
        return c === 0;
      case '!=level':
        return c !== 0;
      case '<level':
        return c < 0;
      case '<=level':
        return c <= 0;
      case '>level':
        return c > 0;
      default:
        return c >= 0;
    }
  }
  // Decimal integers compare as numbers, anything else as text.
  const numeric = /^\d+$/.test(a) && /^\d+$/.test(b);
  const c = numeric ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0;
  switch (op) {
    case '==':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    default:
      return c >= 0;
  }
}

/** Compare compatibility levels such as `2`, `3.6`, `3.6.1` (missing parts count as 0). */
export function compareLevel(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let k = 0; k < Math.max(pa.length, pb.length); k++) {
    const d = (pa[k] ?? 0) - (pb[k] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
