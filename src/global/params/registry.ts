// The one parameter registry: lookup by name over the table, plus the
// host-dependent and install-time defaults that cannot be constant text.
import { PARAMS } from './registry-table.js';
import type { ParamSpec } from './types.js';

const byName = new Map<string, ParamSpec>(PARAMS.map((p) => [p.name, p]));

export function paramSpec(name: string): ParamSpec | undefined {
  return byName.get(name);
}

export function allParams(): readonly ParamSpec[] {
  return PARAMS;
}
