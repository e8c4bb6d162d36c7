// Tables built from other tables: unionmap:{a, b} (every answer, comma-joined),
// pipemap:{a, b} (each answer is the next table's key) and randmap:{x, y}
// (one of the listed results at random). Postfix's dict_union.c,
// dict_pipe.c and dict_random.c.
import { randomInt } from 'node:crypto';
import type { Dict } from './dict-api.js';
import { splitBraceList, stripBraces } from './spec.js';
import { TableSyntaxError } from './table-source.js';

export type Opener = (spec: string) => Promise<Dict>;

function members(spec: string, name: string, min: number): string[] {
  const body = stripBraces(name);
  if (body === undefined) throw new TableSyntaxError(`${spec}: missing '{' or '}'`);
  const list = splitBraceList(body).map((m) => stripBraces(m) ?? m);
  if (list.length < min) throw new TableSyntaxError(`${spec}: need at least ${min} table${min > 1 ? 's' : ''}`);
  return list;
}

export async function openUnion(spec: string, name: string, open: Opener): Promise<Dict> {
  const dicts = await Promise.all(members(spec, name, 1).map(open));
  return {
    spec,
    async lookup(key: string): Promise<string | undefined> {
      const found: string[] = [];
      for (const d of dicts) {
        const v = await d.lookup(key);
        if (v !== undefined) found.push(v);
      }
      return found.length ? found.join(',') : undefined;
    },
    close: () => Promise.resolve(),
  };
}

export async function openPipe(spec: string, name: string, open: Opener): Promise<Dict> {
  const dicts = await Promise.all(members(spec, name, 2).map(open));
  return {
    spec,
    async lookup(key: string): Promise<string | undefined> {
      let cur: string | undefined = key;
      for (const d of dicts) {
        cur = await d.lookup(cur);
        if (cur === undefined) return undefined;
      }
      return cur;
    },
    close: () => Promise.resolve(),
  };
}

export function openRandom(spec: string, name: string): Dict {
  const results = members(spec, name, 1);
  return {
    spec,
    lookup: () => Promise.resolve(results[randomInt(results.length)]),
    close: () => Promise.resolve(),
  };
}
