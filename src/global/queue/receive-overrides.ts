// receive_override_options (postconf(5)): what a mail source — an smtpd,
// qmqpd or pickup entry, usually through master.cf `-o` — switches off for
// the mail it receives. smtpd honours no_unknown_recipient_checks itself;
// the rest travel with the message to cleanup(8), as Postfix passes them in
// its cleanup flags. Typical use is the re-injection listener after an
// after-queue content filter, where mapping and checks already happened.
import type { ParamReader } from '../params/types.js';

export type ReceiveOverride =
  'no_unknown_recipient_checks' | 'no_address_mappings' | 'no_header_body_checks' | 'no_milters';

const KNOWN: ReadonlySet<string> = new Set<ReceiveOverride>([
  'no_unknown_recipient_checks',
  'no_address_mappings',
  'no_header_body_checks',
  'no_milters',
]);

// Asked per message by cleanup and per RCPT by smtpd: the parse is kept per
// configuration object (a Config never changes once read; reload builds a new one).
const parsed = new WeakMap<ParamReader, { readonly set: ReadonlySet<ReceiveOverride>; readonly unknown: string[] }>();

/**
 * The options in effect for `config` (a source service's main.cf + `-o`).
 * An unknown word is reported through `warn` (on every call, as before the
 * parse was kept) and ignored, so one typo does not stop a daemon (Postfix
 * makes it fatal).
 */
export function receiveOverrides(config: ParamReader, warn?: (text: string) => void): ReadonlySet<ReceiveOverride> {
  let p = parsed.get(config);
  if (!p) {
    const set = new Set<ReceiveOverride>();
    const unknown: string[] = [];
    for (const word of config.list('receive_override_options')) {
      const w = word.toLowerCase();
      if (KNOWN.has(w)) set.add(w as ReceiveOverride);
      else unknown.push(word);
    }
    p = { set, unknown };
    parsed.set(config, p);
  }
  if (warn) for (const word of p.unknown) warn(`unknown receive_override_options value "${word}" -- ignored`);
  return p.set;
}
