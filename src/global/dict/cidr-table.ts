// cidr_table(5): `network/prefix result` rules matched in order against an
// IPv4 or IPv6 address, with `!` negation and if/endif blocks. A key that is
// not an address matches nothing. Postfix's dict_cidr.c.
import { isIP } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { Dict } from './dict-api.js';
import { logicalLines, splitKeyValue, TableSyntaxError } from './table-source.js';

interface Net {
  readonly v6: boolean;
  readonly addr: bigint;
  readonly mask: bigint;
}

type Rule =
  | { kind: 'match'; net: Net; negate: boolean; result: string }
  | { kind: 'if'; net: Net; negate: boolean; end: number; line: number }
  | { kind: 'endif' };

function v4ToBig(a: string): bigint {
  return a.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v6ToBig(a: string): bigint {
  let text = a;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const n = v4ToBig(dotted[1]);
    text = `${text.slice(0, -dotted[1].length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** Parse an address (optionally [bracketed]); undefined when it is not one. */
export function parseAddress(a: string): { v6: boolean; addr: bigint } | undefined {
  const kind = isIP(a);
  if (kind === 4) return { v6: false, addr: v4ToBig(a) };
  if (kind === 6 && !a.includes('%')) return { v6: true, addr: v6ToBig(a) };
  return undefined;
}

function parseNet(text: string, where: string): Net {
  const slash = text.lastIndexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  // Table patterns may bracket IPv6 addresses; lookup keys are bare.
  const bare = addrText.startsWith('[') && addrText.endsWith(']') ? addrText.slice(1, -1) : addrText;
  const a = parseAddress(bare);
  if (!a) {
    const what = slash < 0 ? 'address' : 'net/mask';
    throw new TableSyntaxError(`${where}: bad ${what} pattern: "${text}": skipping this rule`);
  }
  const bits = a.v6 ? 128 : 32;
  const lenText = slash < 0 ? String(bits) : text.slice(slash + 1);
  if (!/^\d+$/.test(lenText) || Number(lenText) > bits) {
    throw new TableSyntaxError(`${where}: bad net/mask pattern: "${text}": skipping this rule`);
  }
  const len = BigInt(lenText);
  const all = (1n << BigInt(bits)) - 1n;
  const mask = (all << (BigInt(bits) - len)) & all;
  if ((a.addr & ~mask & all) !== 0n) {
    throw new TableSyntaxError(
      `${where}: non-null host address bits in "${text}", perhaps you should use "${format(a.v6, a.addr & mask)}/${lenText}" instead: skipping this rule`,
    );
  }
  return { v6: a.v6, addr: a.addr, mask };
}

function format(v6: boolean, n: bigint): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((n >> s) & 0xffffn).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

const matches = (net: Net, a: { v6: boolean; addr: bigint }): boolean =>
  net.v6 === a.v6 && (a.addr & net.mask) === net.addr;

/** `[!]net[/len]` at the start of `text`, and what follows it. */
function splitPattern(text: string): { negate: boolean; pattern: string; rest: string } {
  const negate = text.startsWith('!');
  const body = negate ? text.slice(1).trimStart() : text;
  const kv = splitKeyValue(body);
  return { negate, pattern: kv ? kv.key : body, rest: kv ? kv.value : '' };
}

export function parseCidrTable(text: string, file: string, warn: (t: string) => void): Rule[] {
  const rules: Rule[] = [];
  const open: number[] = [];
  for (const ll of logicalLines(text, file)) {
    const where = `cidr map ${file}, line ${ll.line}`;
    try {
      if (/^endif$/i.test(ll.text)) {
        const start = open.pop();
        if (start === undefined) {
          warn(`${where}: ignoring ENDIF without matching IF`);
          continue;
        }
        const r = rules[start];
        if (r?.kind === 'if') r.end = rules.length;
        rules.push({ kind: 'endif' });
      } else if (/^if\s/i.test(ll.text)) {
        const p = splitPattern(ll.text.slice(3).trim());
        if (p.rest) warn(`${where}: ignoring extra text after IF statement: "${p.rest}"`);
        open.push(rules.length);
        rules.push({ kind: 'if', net: parseNet(p.pattern, where), negate: p.negate, end: -1, line: ll.line });
      } else {
        const p = splitPattern(ll.text);
        if (!p.rest) throw new TableSyntaxError(`${where}: no lookup result: skipping this rule`);
        rules.push({ kind: 'match', net: parseNet(p.pattern, where), negate: p.negate, result: p.rest });
      }
    } catch (e) {
      if (!(e instanceof TableSyntaxError)) throw e;
      warn(e.message);
    }
  }
  for (const start of open) {
    const r = rules[start];
    warn(`cidr map ${file}, line ${r?.kind === 'if' ? r.line : 0}: IF has no matching ENDIF`);
    if (r?.kind === 'if') r.end = rules.length;
  }
  return rules;
}

export function lookupCidr(rules: readonly Rule[], key: string): string | undefined {
  const a = parseAddress(key);
  if (!a) return undefined;
  let i = 0;
  while (i < rules.length) {
    const r = rules[i];
    if (r === undefined) break;
    if (r.kind === 'if') {
      i = matches(r.net, a) !== r.negate ? i + 1 : r.end + 1;
      continue;
    }
    if (r.kind === 'match' && matches(r.net, a) !== r.negate) return r.result;
    i++;
  }
  return undefined;
}

export async function openCidrTable(spec: string, file: string, warn: (t: string) => void): Promise<Dict> {
  const rules = parseCidrTable(await readFile(file, 'utf8'), file, warn);
  return {
    spec,
    lookup: (key) => Promise.resolve(lookupCidr(rules, key)),
    close: () => Promise.resolve(),
  };
}
