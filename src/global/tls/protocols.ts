// Postfix's TLS protocol and cipher parameters (TLS_README, postconf(5)
// `*_tls_protocols`, `*_tls_ciphers`, `tls_*_cipherlist`) mapped onto what
// Node's TLS layer takes: a min/max protocol version and an OpenSSL cipher
// string. Shared by smtpd (server side) and, later, the smtp client.
import type { ParamReader } from '../params/types.js';

/** Protocol names in order; Node cannot speak SSLv2/SSLv3 at all. */
const ORDER = ['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type NodeTlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export class TlsConfigError extends Error {
  override name = 'TlsConfigError';
}

export interface ProtocolRange {
  readonly minVersion: NodeTlsVersion;
  readonly maxVersion: NodeTlsVersion;
}

function indexOf(name: string, param: string): number {
  const i = ORDER.findIndex((p) => p.toLowerCase() === name.toLowerCase());
  if (i < 0) throw new TlsConfigError(`${param}: unknown TLS protocol "${name}"`);
  return i;
}

/**
 * Parse `>=TLSv1.2`, `<=TLSv1.2`, `!SSLv2, !SSLv3` (exclusions) or
 * `TLSv1.2 TLSv1.3` (inclusions). As in Postfix, the enabled set must be
 * contiguous: OpenSSL (and Node) only take a lowest and highest version.
 */
export function parseProtocols(value: string, param: string): ProtocolRange {
  const enabled = ORDER.map((_, i) => i >= 2);
  const items = value.split(/[\s,:]+/).filter(Boolean);
  const includes = items.filter((t) => !t.startsWith('!') && !t.startsWith('>=') && !t.startsWith('<='));
  if (includes.length > 0) {
    enabled.fill(false);
    for (const t of includes) enabled[indexOf(t, param)] = true;
  }
  for (const t of items) {
    if (t.startsWith('!')) enabled[indexOf(t.slice(1), param)] = false;
    else if (t.startsWith('>=')) {
      const lo = indexOf(t.slice(2), param);
      for (let i = 0; i < lo; i++) enabled[i] = false;
    } else if (t.startsWith('<=')) {
      const hi = indexOf(t.slice(2), param);
      for (let i = hi + 1; i < ORDER.length; i++) enabled[i] = false;
    }
  }
  // SSLv2/SSLv3 do not exist in the TLS library Node ships.
  enabled[0] = false;
  enabled[1] = false;
  const on = enabled.flatMap((e, i) => (e ? [i] : []));
  const lo = on[0];
  const hi = on[on.length - 1];
  if (lo === undefined || hi === undefined)
    throw new TlsConfigError(`${param}: no TLS protocol left enabled in "${value}"`);
  if (hi - lo + 1 !== on.length) {
    throw new TlsConfigError(`${param}: the enabled protocols in "${value}" must form a contiguous range`);
  }
  return { minVersion: ORDER[lo] as NodeTlsVersion, maxVersion: ORDER[hi] as NodeTlsVersion };
}

/** The intersection of two ranges (`smtpd_tls_protocols` and, under encrypt, the mandatory ones). */
export function narrowRange(a: ProtocolRange, b: ProtocolRange, param: string): ProtocolRange {
  const lo = Math.max(ORDER.indexOf(a.minVersion), ORDER.indexOf(b.minVersion));
  const hi = Math.min(ORDER.indexOf(a.maxVersion), ORDER.indexOf(b.maxVersion));
  if (lo > hi) throw new TlsConfigError(`${param}: no TLS protocol left enabled`);
  return { minVersion: ORDER[lo] as NodeTlsVersion, maxVersion: ORDER[hi] as NodeTlsVersion };
}

const GRADES = ['export', 'low', 'medium', 'high', 'null'] as const;
export type CipherGrade = (typeof GRADES)[number];

export function parseGrade(value: string, param: string): CipherGrade {
  const v = value.trim().toLowerCase();
  const g = GRADES.find((x) => x === v);
  if (!g) throw new TlsConfigError(`${param}: invalid cipher grade "${value}"`);
  return g;
}

/**
 * The OpenSSL cipher list for a grade: `tls_<grade>_cipherlist` with the
 * exclusions appended as `!name`. Postfix's lists start `aNULL:-aNULL` to
 * order, not enable, anonymous suites; SECLEVEL=0 keeps the medium grade's
 * legacy suites usable for old peers, as Postfix's OpenSSL build allows.
 * TLS 1.3 suites are not governed by this list (as with OpenSSL).
 */
export function cipherList(config: ParamReader, grade: CipherGrade, exclusions: readonly string[]): string {
  const base = config.get(`tls_${grade}_cipherlist`);
  const excl = exclusions.map((e) => `!${e.replace(/^!/, '')}`);
  return [base, ...excl, '@SECLEVEL=0'].filter(Boolean).join(':');
}
