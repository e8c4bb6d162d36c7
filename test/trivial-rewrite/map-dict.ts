// Map-backed lookup tables for tests: what `openDict(spec)` gives the daemon,
// with case folding like Postfix's indexed tables and an optional failure mode.
import { DictRetryError, type Dict } from '../../src/global/dict/dict-api.js';

export function mapDict(spec: string, entries: Record<string, string>, failing = false): Dict {
  const m = new Map(Object.entries(entries).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    spec,
    lookup: (key: string) => {
      if (failing) return Promise.reject(new DictRetryError(`${spec}: lookup failed`));
      return Promise.resolve(m.get(key.toLowerCase()));
    },
    close: () => Promise.resolve(),
  };
}

/** An `openDict` over named tables; an unknown spec is an error, as a missing file would be. */
export function tableOpener(tables: Record<string, Dict>): (spec: string) => Promise<Dict> {
  return (spec) => {
    const d = tables[spec];
    return d ? Promise.resolve(d) : Promise.reject(new Error(`open ${spec}: no such table`));
  };
}
