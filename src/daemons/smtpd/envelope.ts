// Parsing of the MAIL FROM / RCPT TO argument: the path in angle brackets
// (RFC 5321 section 4.1.2, with Postfix's leniency: a space after the colon
// and a bare address without brackets are accepted) and the ESMTP
// parameters that follow. The address comes back as the client wrote it,
// source route removed; policy and cleanup decide what it means.

export type PathParse =
  | { readonly ok: true; readonly address: string; readonly params: readonly string[]; readonly utf8: boolean }
  | { readonly ok: false; readonly error: 'syntax' | 'address' };

/** Index of the `>` closing the path that starts at `open`, honouring quoted strings. */
function closingBracket(s: string, open: number): number {
  let quoted = false;
  for (let i = open + 1; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === '>' && !quoted) return i;
  }
  return -1;
}

function validAddress(addr: string): boolean {
  let quoted = false;
  for (let i = 0; i < addr.length; i++) {
    const c = addr.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return false;
    const ch = addr[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '"') quoted = !quoted;
    else if (
      !quoted &&
      (ch === ' ' || ch === '<' || ch === '>' || ch === '(' || ch === ')' || ch === ',' || ch === ';')
    )
      return false;
  }
  return !quoted;
}

/**
 * `rest` is the command text after the verb, e.g. `FROM:<a@b> SIZE=10`;
 * `keyword` is `FROM` or `TO`.
 */
export function parsePath(rest: string, keyword: 'FROM' | 'TO'): PathParse {
  const prefix = `${keyword}:`;
  if (rest.slice(0, prefix.length).toUpperCase() !== prefix) return { ok: false, error: 'syntax' };
  let arg = rest.slice(prefix.length);
  if (arg.startsWith(' ') || arg.startsWith('\t')) arg = arg.replace(/^[ \t]+/, '');
  if (arg === '') return { ok: false, error: 'syntax' };
  let path: string;
  let tail: string;
  if (arg.startsWith('<')) {
    const close = closingBracket(arg, 0);
    if (close < 0) return { ok: false, error: 'address' };
    path = arg.slice(1, close);
    tail = arg.slice(close + 1);
    if (tail !== '' && !/^[ \t]/.test(tail)) return { ok: false, error: 'address' };
  } else {
    const sp = arg.search(/[ \t]/);
    path = sp < 0 ? arg : arg.slice(0, sp);
    tail = sp < 0 ? '' : arg.slice(sp);
  }
  // RFC 5321 source route `@a,@b:user@domain`: obsolete, ignored as RFC 5321 section C allows.
  const route = path.startsWith('@') ? /^@[^:]*:/.exec(path) : null;
  if (route) path = path.slice(route[0].length);
  if (!validAddress(path)) return { ok: false, error: 'address' };
  // Most paths come without parameters (smtp-source, many MTAs): no split for those.
  const params = tail === '' ? [] : tail.split(/[ \t]+/).filter((p) => p !== '');
  // eslint-disable-next-line no-control-regex
  const utf8 = /[^\x00-\x7f]/.test(path);
  return { ok: true, address: path, params, utf8 };
}

/** Split `KEY=value` (value may be absent) with the key upper-cased. */
export function splitParam(p: string): { key: string; value: string | undefined } {
  const eq = p.indexOf('=');
  if (eq < 0) return { key: p.toUpperCase(), value: undefined };
  return { key: p.slice(0, eq).toUpperCase(), value: p.slice(eq + 1) };
}
