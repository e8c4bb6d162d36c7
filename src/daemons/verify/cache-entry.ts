// One address verification cache entry, stored as text in
// address_verify_map: `status:probed:updated:text`, the layout Postfix's
// verify(8) uses, so `postmap -q ADDR btree:.../verify_cache` reads the same
// way. status is 0 deliverable, 1 deferred, 2 undeliverable, 3 unknown (being
// probed); probed is when the outstanding probe was sent (0: none); updated
// is when the last result came back (0: never); both in seconds since 1970.
import type { VerifyStatus } from './verify-api.js';

export interface CacheEntry {
  readonly status: VerifyStatus;
  /** Seconds since the epoch; 0 when no probe is outstanding. */
  readonly probed: number;
  /** Seconds since the epoch; 0 when no result has come back. */
  readonly updated: number;
  readonly text: string;
}

const CODES: readonly VerifyStatus[] = ['ok', 'defer', 'bounce', 'todo'];
/** A reason longer than this is cut: entries must stay well inside LMDB's value limits. */
const MAX_TEXT = 1000;

export function encodeEntry(e: CacheEntry): string {
  const text = e.text.replace(/[\r\n\0]/g, ' ').slice(0, MAX_TEXT);
  return `${CODES.indexOf(e.status)}:${Math.floor(e.probed)}:${Math.floor(e.updated)}:${text}`;
}

/** undefined for anything that is not a well-formed entry (the caller then probes afresh). */
export function decodeEntry(raw: string): CacheEntry | undefined {
  const m = /^(\d):(\d{1,15}):(\d{1,15}):(.*)$/s.exec(raw);
  if (!m) return undefined;
  const status = CODES[Number(m[1])];
  const probed = Number(m[2]);
  const updated = Number(m[3]);
  // All-zero time stamps are never written: such a record is damaged.
  if (status === undefined || (probed === 0 && updated === 0)) return undefined;
  return { status, probed, updated, text: m[4] ?? '' };
}

/**
 * The key an address is cached under: lower case (addresses differing only in
 * case are one mailbox for verification purposes), and `:` in IPv6 literals
 * turned into `_` as Postfix does.
 */
export function cacheKey(address: string): string {
  return address.toLowerCase().replace(/:/g, '_');
}
