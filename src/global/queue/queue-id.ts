// Queue IDs in Postfix's two forms (see postconf(5) enable_long_queue_ids):
// short: 5 hex digits of the microsecond clock followed by a hex serial
// (Postfix uses the queue file's inode number; segments have no per-message
// inode, so a per-store serial with a random start takes its place);
// long: 6 characters of seconds and 4 of microseconds in a vowel-free base-52
// alphabet, the separator `z`, then the serial in base 51 (no `z`).
// Both are file-name safe; uniqueness among live messages is enforced by the
// store, which asks again when a generated ID is taken.
import { randomInt } from 'node:crypto';

const LONG_ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz';
const SERIAL_ALPHABET = LONG_ALPHABET.slice(0, 51); // everything but `z`

function encode(n: number, alphabet: string, width: number): string {
  const radix = alphabet.length;
  let out = '';
  let v = Math.floor(n);
  do {
    out = alphabet.charAt(v % radix) + out;
    v = Math.floor(v / radix);
  } while (v > 0);
  return out.padStart(width, alphabet.charAt(0));
}

export class QueueIdGenerator {
  private serial: number;

  constructor(
    readonly long: boolean,
    private readonly clock: () => number = () => Date.now(),
  ) {
    // A random start keeps IDs from repeating right after a restart.
    this.serial = randomInt(0x10000, 0xfffff);
  }

  next(): string {
    this.serial = this.serial >= 0xffffff ? 0x10000 : this.serial + 1;
    const nowMs = this.clock();
    // Sub-millisecond digits are not available portably; a hrtime-derived
    // value keeps the microsecond field moving between calls.
    const usec = (nowMs % 1000) * 1000 + (Math.floor(performance.now() * 1000) % 1000);
    if (!this.long) {
      return usec.toString(16).toUpperCase().padStart(5, '0') + this.serial.toString(16).toUpperCase();
    }
    const secs = Math.floor(nowMs / 1000);
    return (
      encode(secs, LONG_ALPHABET, 6) + encode(usec, LONG_ALPHABET, 4) + 'z' + encode(this.serial, SERIAL_ALPHABET, 1)
    );
  }
}

const SHORT_RE = /^[0-9A-F]{6,}$/;
const LONG_RE = /^[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+$/;

/** Whether `id` has the shape of a Postern/Postfix queue ID (short or long form). */
export function isQueueId(id: string): boolean {
  return id.length <= 64 && (SHORT_RE.test(id) || LONG_RE.test(id));
}
