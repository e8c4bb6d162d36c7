// The first check on JSON from another process or a peer: a plain object
// (not null, not an array) whose fields can then be checked one by one.
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
