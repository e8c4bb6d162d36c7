// The envelope sender of address verification probes (address_verify_sender,
// $double_bounce_sender by default) and, with address_verify_sender_ttl, its
// time-dependent form: the number of TTL periods since 1970, written in base
// 31 with digits and consonants only, appended to the local part
// (`double-bounce1KTZ@example.com`), so harvested probe senders go stale.
// smtpd recognises the current, previous and next period's address as ours
// and exempts a recipient so addressed from its restrictions, because a probe
// answered with a probe must not be refused (postconf(5), address_verify_sender).

import type { ParamReader } from '../../global/params/types.js';

const DIGITS = '0123456789BCDFGHJKLMNPQRSTVWXYZ';
const BASE = DIGITS.length;

export interface ProbeSenderSettings {
  /** address_verify_sender as written; `''` or `<>` is the null sender. */
  readonly sender: string;
  /** address_verify_sender_ttl in seconds; 0 keeps the address fixed. */
  readonly ttlSeconds: number;
  /** Canonical form, as trivial-rewrite would make it (`double-bounce` → `double-bounce@$myorigin`). */
  readonly qualify: (address: string) => string;
}

export class ProbeSenderError extends Error {
  override name = 'ProbeSenderError';
}

export function encodeEpoch(n: number): string {
  let v = Math.max(0, Math.floor(n));
  let out = '';
  do {
    out = (DIGITS[v % BASE] ?? '0') + out;
    v = Math.floor(v / BASE);
  } while (v > 0);
  return out;
}

/** undefined unless `s` is a whole base-31 number (upper or lower case). */
export function decodeEpoch(s: string): number | undefined {
  if (s === '' || s.length > 12) return undefined;
  let v = 0;
  for (const ch of s.toUpperCase()) {
    const d = DIGITS.indexOf(ch);
    if (d < 0) return undefined;
    v = v * BASE + d;
  }
  return v;
}

function isNull(sender: string): boolean {
  const s = sender.trim();
  return s === '' || s === '<>';
}

/** Postfix refuses these at start-up; so does the verify service. */
export function checkProbeSender(sender: string): void {
  const s = sender.trim();
  if (isNull(s)) return;
  if (s.startsWith('@'))
    throw new ProbeSenderError(`parameter address_verify_sender: value "${s}" must not start with '@'`);
  if (s.endsWith('@'))
    throw new ProbeSenderError(`parameter address_verify_sender: value "${s}" must not end with '@'`);
}

/** The sender for a probe sent at `nowSeconds`. */
export function probeSenderAddress(s: ProbeSenderSettings, nowSeconds: number): string {
  if (isNull(s.sender)) return '';
  const base = s.sender.trim();
  if (s.ttlSeconds <= 0) return s.qualify(base);
  const at = base.indexOf('@');
  const local = at < 0 ? base : base.slice(0, at);
  const domain = at < 0 ? '' : base.slice(at);
  return s.qualify(`${local}${encodeEpoch(nowSeconds / s.ttlSeconds)}${domain}`);
}

/**
 * Whether `address` is one of our probe senders (within one TTL period
 * either way); the null sender matches only a null address_verify_sender.
 */
export function isProbeSender(s: ProbeSenderSettings, address: string, nowSeconds: number): boolean {
  if (isNull(s.sender)) return address === '';
  if (address === '') return false;
  const fixed = s.qualify(s.sender.trim()).toLowerCase();
  const a = address.toLowerCase();
  const at = fixed.indexOf('@');
  const fixedLocal = at < 0 ? fixed : fixed.slice(0, at);
  const fixedDomain = at < 0 ? '' : fixed.slice(at);
  if (!a.startsWith(fixedLocal)) return false;
  const theirAt = a.indexOf('@', fixedLocal.length);
  const theirDomain = theirAt < 0 ? '' : a.slice(theirAt);
  if (theirDomain !== fixedDomain) return false;
  const stamp = a.slice(fixedLocal.length, theirAt < 0 ? a.length : theirAt);
  if (s.ttlSeconds <= 0) return stamp === '';
  const theirs = decodeEpoch(stamp);
  const mine = Math.floor(nowSeconds / s.ttlSeconds);
  return theirs !== undefined && theirs >= mine - 1 && theirs <= mine + 1;
}

/**
 * The settings from main.cf. Without a `rewrite` (trivial-rewrite's
 * canonical form) an address without a domain gets `@$myorigin` when
 * append_at_myorigin is on, which is what the rewrite does to it.
 */
export function probeSenderSettings(
  config: ParamReader,
  rewrite?: (a: string) => string | undefined,
): ProbeSenderSettings {
  const myorigin = config.get('myorigin');
  const append = config.bool('append_at_myorigin');
  return {
    sender: config.get('address_verify_sender'),
    ttlSeconds: config.time('address_verify_sender_ttl'),
    qualify: (a) => {
      const r = rewrite?.(a);
      if (r !== undefined) return r;
      return a.includes('@') || !append || myorigin === '' ? a : `${a}@${myorigin}`;
    },
  };
}
